# One precompiled header for every LibTorch-heavy target (about 9 s saved a file that includes it).
# It is built once, on fas_pch, and reused by every module that includes torch.
add_library(fas_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
target_link_libraries(fas_pch PUBLIC ${TORCH_LIBRARIES})
target_include_directories(fas_pch PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_compile_options(fas_pch PRIVATE ${FAS_WARNINGS})
target_precompile_headers(fas_pch PRIVATE <torch/torch.h>)

# fas_module(NAME SOURCES... [MODULES ...] [DEPS ...] [TORCH])
#   A static library fas_NAME from src/NAME, public headers in include/fas/NAME. MODULES names the modules above
#   it that it uses (linked as fas_<module>); DEPS are other link targets. A module with no sources yet is skipped.
function(fas_module name)
  cmake_parse_arguments(M "TORCH" "" "SOURCES;DEPS;MODULES" ${ARGN})
  if(NOT M_SOURCES)
    message(STATUS "module ${name}: no sources yet, skipped")
    return()
  endif()
  foreach(m IN LISTS M_MODULES)
    if(NOT TARGET fas_${m})
      message(FATAL_ERROR "module ${name} uses module ${m}, which is not built (is it listed after ${name}?)")
    endif()
    list(APPEND M_DEPS fas_${m})
  endforeach()
  add_library(fas_${name} STATIC ${M_SOURCES})
  target_include_directories(fas_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fas_${name} PRIVATE ${FAS_WARNINGS})
  target_link_libraries(fas_${name} PUBLIC ${M_DEPS})
  if(M_TORCH)
    target_link_libraries(fas_${name} PUBLIC ${TORCH_LIBRARIES})
    target_precompile_headers(fas_${name} REUSE_FROM fas_pch)
  endif()
endfunction()

# fas_test(NAME SOURCES... DEPS ... [TORCH] [LABELS ...] [FIXTURES ...])
#   One GoogleTest binary = one ctest entry (trap 5: a LibTorch process costs 0.7 s to start).
#   FIXTURES names ctest fixtures the test needs, e.g. `tiny_corpus` (the synthetic corpus written once per build
#   by tests/integration/synth, found through $FAS_TINY_CORPUS).
function(fas_test name)
  cmake_parse_arguments(T "TORCH" "" "SOURCES;DEPS;LABELS;FIXTURES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${FAS_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main fas_test_support)
  if(T_TORCH)
    target_link_libraries(${name} PRIVATE ${TORCH_LIBRARIES})
    target_precompile_headers(${name} REUSE_FROM fas_pch)
  endif()
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "FAS_BIN=$<TARGET_FILE:fas>;FAS_SOURCE_DIR=${PROJECT_SOURCE_DIR};FAS_BUILD_DIR=${PROJECT_BINARY_DIR};FAS_TINY_CORPUS=${PROJECT_BINARY_DIR}/fixtures/tiny_corpus"
    LABELS "${T_LABELS}")
  if(T_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES}")
  endif()
endfunction()

# fas_cuda_sources(FILES...)
#   Sources that include CUDA's own headers under #ifdef FAS_CUDA (GPU properties, NCCL): FAS_CUDA=1 where LibTorch
#   has CUDA. They skip the shared precompiled header, whose flags lack the definition.
function(fas_cuda_sources)
  set_source_files_properties(${ARGN} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  if(FAS_CUDA)
    set_source_files_properties(${ARGN} PROPERTIES COMPILE_DEFINITIONS FAS_CUDA=1)
  endif()
endfunction()
