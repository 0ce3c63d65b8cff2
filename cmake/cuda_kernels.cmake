# layerwise's own CUDA kernels (src/model/cuda/*.cu) in layerwise_lib, where they can be built.
#
# Included from CMakeLists.txt after layerwise_lib is defined (and after find_package(Torch)). Needs a
# LibTorch with CUDA and a CUDA compiler (nvcc, found by check_language); with either missing (a
# CPU LibTorch, this project's CI) it does nothing and the library takes the ATen paths.
#
#   LAYERWISE_CUDA_ARCH   "9.0" (H100, H200) -> CMAKE_CUDA_ARCHITECTURES 90; empty: 90
#
# Defines LAYERWISE_CUDA_KERNELS=1 for src/model/fused_layer_norm.cpp, the one file that calls them.

if(NOT (TORCH_CUDA_LIBRARIES OR TARGET torch_cuda))
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "layerwise: no CUDA compiler found, own CUDA kernels off (ATen paths only)")
  return()
endif()

# CMAKE_CUDA_ARCHITECTURES must be set before enable_language, or CMake picks the compiler's
# default. "9.0;8.0" -> "90;80"; a "+PTX" suffix (TORCH_CUDA_ARCH_LIST style) is dropped.
if(NOT CMAKE_CUDA_ARCHITECTURES)
  set(layerwise_cuda_archs "")
  if(LAYERWISE_CUDA_ARCH)
    string(REPLACE " " ";" layerwise_arch_list "${LAYERWISE_CUDA_ARCH}")
    foreach(arch IN LISTS layerwise_arch_list)
      string(REPLACE "+PTX" "" arch "${arch}")
      string(REPLACE "." "" arch "${arch}")
      if(arch)
        list(APPEND layerwise_cuda_archs "${arch}")
      endif()
    endforeach()
  endif()
  if(NOT layerwise_cuda_archs)
    set(layerwise_cuda_archs 90)
  endif()
  set(CMAKE_CUDA_ARCHITECTURES "${layerwise_cuda_archs}")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)

# The .cu files include no LibTorch header, so they build as their own object library: no
# <torch/torch.h> precompiled header, none of LibTorch's compile flags; their objects go into
# layerwise_lib (and so into the installed liblayerwise.a) with no new target to export.
file(GLOB LAYERWISE_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/model/cuda/*.cu)
add_library(layerwise_cuda_kernels OBJECT ${LAYERWISE_CUDA_SOURCES})
set_target_properties(layerwise_cuda_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON)
# Directory-wide options (the sanitizer flags of add_compile_options) are GCC's, which nvcc
# rejects: hand them to nvcc's host compiler instead.
get_target_property(layerwise_cuda_options layerwise_cuda_kernels COMPILE_OPTIONS)
if(layerwise_cuda_options)
  list(TRANSFORM layerwise_cuda_options PREPEND "-Xcompiler=")
  set_property(TARGET layerwise_cuda_kernels PROPERTY COMPILE_OPTIONS ${layerwise_cuda_options})
endif()
# -lineinfo for Nsight; no --use_fast_math: IEEE division, and rsqrtf as in ATen's own LayerNorm.
target_compile_options(layerwise_cuda_kernels PRIVATE -O3 -lineinfo
  "-Xcompiler=-Wall,-Wextra")
target_sources(layerwise_lib PRIVATE $<TARGET_OBJECTS:layerwise_cuda_kernels>)
# The kernels' launches need the CUDA runtime on the link line: the shared one LibTorch uses (one
# runtime in the process). LibTorch's CMake config has found the CUDA toolkit already.
if(NOT TARGET CUDA::cudart)
  find_package(CUDAToolkit REQUIRED)
endif()
target_link_libraries(layerwise_lib PUBLIC CUDA::cudart)
# Only the wrapper needs to know, and a per-file definition keeps layerwise_lib's precompiled
# header (which the CLI, tests and benchmarks reuse) as it was: that file parses its own headers.
set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/model/fused_layer_norm.cpp APPEND PROPERTY
  COMPILE_DEFINITIONS LAYERWISE_CUDA_KERNELS=1)
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/model/fused_layer_norm.cpp PROPERTIES
  SKIP_PRECOMPILE_HEADERS ON SKIP_UNITY_BUILD_INCLUSION ON)

set(LAYERWISE_OWN_CUDA_KERNELS ON)  # for the package config: consumers need CUDA::cudart
message(STATUS "layerwise: own CUDA kernels (sm_${CMAKE_CUDA_ARCHITECTURES})")
