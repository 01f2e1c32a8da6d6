# xcit_add_c_test(<name> <source> [LIBS <lib>...]): one C test executable, registered
# with ctest. Exit code 77 means "skipped" (e.g. a GPU test on a machine without one),
# the automake convention that ctest's SKIP_RETURN_CODE understands.
function(xcit_add_c_test name source)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  add_executable(${name} ${source})
  xcit_target_flags(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} m)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endfunction()
