# accel_add_backend(NAME SOURCES...): a backend plugin, libaccel_backend_<name>.so,
# placed where the HAL looks for backends in both the build and install trees.
function(accel_add_backend name)
  set(target accel_backend_${name})
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE accel::plugin_sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${ACCEL_BACKEND_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/${ACCEL_BACKEND_SUBDIR})
endfunction()
