# Installs librecforge, its headers, the `recforge` binary and a CMake package
# so out-of-tree plugins can `find_package(recforge)` and `recforge_add_plugin`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(recforge recforge_cli PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}"
  INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS recforge EXPORT recforgeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS recforge_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/include/ ${PROJECT_SOURCE_DIR}/kernels/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(RECFORGE_WITH_CUDA)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/cuda_include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/recforge_cuda)
endif()

install(EXPORT recforgeTargets NAMESPACE recforge:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recforge)
configure_package_config_file(${PROJECT_SOURCE_DIR}/framework/cmake/recforgeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/recforgeConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recforge)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/recforgeConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/recforgeConfig.cmake ${PROJECT_BINARY_DIR}/recforgeConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/framework/cmake/RecforgePlugin.cmake
              ${PROJECT_SOURCE_DIR}/framework/cmake/RecforgeCudaDialect.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recforge)
