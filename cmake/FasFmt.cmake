# One fmt for our code: Debian's, the one spdlog 1.10 is built on.
#
# The torch wheel ships fmt 12's headers in its include folder, and LibTorch's include folders come before the
# system's: spdlog's #include <fmt/...> then found fmt 12, which spdlog 1.10 does not compile with ('basic_runtime'
# is not a member of 'fmt'). /usr/include cannot be moved ahead of them (GCC ignores -I and -isystem for its
# standard folders), so a folder of our own holding only a link `fmt` -> Debian's headers goes first for every
# target. fmt versions its namespace (fmt::v9 here, fmt::v12 inside LibTorch), so the two never meet at link time.
find_package(fmt 9 REQUIRED)
get_target_property(FAS_FMT_INCLUDE fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
find_path(FAS_FMT_HEADERS fmt/core.h PATHS ${FAS_FMT_INCLUDE} NO_DEFAULT_PATH REQUIRED)
set(FAS_FMT_SHADOW ${CMAKE_BINARY_DIR}/include-fmt)
file(MAKE_DIRECTORY ${FAS_FMT_SHADOW})
file(CREATE_LINK ${FAS_FMT_HEADERS}/fmt ${FAS_FMT_SHADOW}/fmt SYMBOLIC)
include_directories(BEFORE SYSTEM ${FAS_FMT_SHADOW})
