# Install rules: `cmake --install build --prefix P` puts
#   P/bin/layerwise                                  the CLI
#   P/include/layerwise/**                           the public headers
#   P/lib/liblayerwise.a                             the library
#   P/lib/cmake/layerwise/layerwise{Config,ConfigVersion,Targets*}.cmake
# so that another project does find_package(layerwise) and links layerwise::layerwise
# (examples/consumer is such a project). Included from the top CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(LAYERWISE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/layerwise)

# LibTorch may live outside the system paths (a pip wheel on the GPU machine): keep the link
# directories of external libraries in the installed CLI's RPATH, so it runs without LD_LIBRARY_PATH.
set_target_properties(layerwise PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS layerwise RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(TARGETS layerwise_lib EXPORT layerwiseTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/layerwise DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(EXPORT layerwiseTargets NAMESPACE layerwise:: DESTINATION ${LAYERWISE_CMAKE_DIR})

# The config finds what the static library links against (ICU only when it was built with it).
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/layerwiseConfig.cmake.in
  ${CMAKE_BINARY_DIR}/layerwiseConfig.cmake INSTALL_DESTINATION ${LAYERWISE_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/layerwiseConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/layerwiseConfig.cmake
              ${CMAKE_BINARY_DIR}/layerwiseConfigVersion.cmake
        DESTINATION ${LAYERWISE_CMAKE_DIR})
