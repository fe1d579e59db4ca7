# OpenMP for our own code, on the runtime LibTorch itself uses.
#
# ATen's at::parallel_for is inline OpenMP code in its headers (AT_PARALLEL_OPENMP): compiled without -fopenmp,
# every parallel_for of ours runs on one thread. The torch wheel bundles its own libgomp.so.1 beside libtorch_cpu;
# linking ours against GCC's system libgomp as well would put the choice of runtime in the loader's hands, and two
# OpenMP runtimes in one process keep two thread pools (and set_num_threads reaches one of them). So we compile
# with GCC's -fopenmp and link the libgomp that LibTorch ships, where it ships one; `fas doctor` prints the runtime
# the process actually loaded. Clang (only the fuzz build) would bring a second runtime (libomp): there our loops
# stay serial.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  find_library(FAS_TORCH_GOMP NAMES libgomp.so.1 PATHS "${TORCH_INSTALL_PREFIX}/lib" NO_DEFAULT_PATH)
  if(FAS_TORCH_GOMP)
    message(STATUS "OpenMP: GCC's -fopenmp, linked to LibTorch's own ${FAS_TORCH_GOMP}")
    add_library(fas_openmp INTERFACE)
    target_compile_options(fas_openmp INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-fopenmp>)
    target_link_libraries(fas_openmp INTERFACE "${FAS_TORCH_GOMP}" Threads::Threads)
    list(APPEND TORCH_LIBRARIES fas_openmp)
  else()
    message(STATUS "OpenMP: GCC's libgomp (this LibTorch ships none of its own)")
    list(APPEND TORCH_LIBRARIES OpenMP::OpenMP_CXX)
  endif()
else()
  message(STATUS "${CMAKE_CXX_COMPILER_ID}: built without OpenMP, so at::parallel_for loops of ours run serially")
endif()
