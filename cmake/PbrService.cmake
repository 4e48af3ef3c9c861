# One platform service: a library with its handlers (so tests link them without main), the
# `pbr-<name>` program, and a unit-test program beside them.
#   pbr_service(NAME allocation LIBRARY pbr_allocation SOURCES ... TEST ... DEPS ...)
function(pbr_service)
  cmake_parse_arguments(S "" "NAME;LIBRARY" "SOURCES;DEPS;TEST" ${ARGN})
  add_library(${S_LIBRARY} STATIC ${S_SOURCES})
  target_include_directories(${S_LIBRARY} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${S_LIBRARY} PUBLIC ${S_DEPS})

  add_executable(pbr-${S_NAME} main.cc)
  target_link_libraries(pbr-${S_NAME} PRIVATE ${S_LIBRARY})

  # One test binary per file (a projection's tests beside it).
  foreach(test_source ${S_TEST})
    get_filename_component(test_target ${test_source} NAME_WE)
    add_executable(${test_target} ${test_source})
    target_link_libraries(${test_target} PRIVATE ${S_LIBRARY} pbr_testing GTest::gmock GTest::gtest_main)
    target_compile_definitions(${test_target} PRIVATE PBR_RULES_DIR="${PBR_RULES_DIR}")
    gtest_discover_tests(${test_target} DISCOVERY_TIMEOUT 30)
  endforeach()
endfunction()
