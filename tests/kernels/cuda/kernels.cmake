# CUDA images of the kernel set (included by tests/kernels/CMakeLists.txt):
# PTX for the lowest virtual architecture the toolkit supports (the driver
# compiles it for any newer GPU) and a cubin for sm_90 (H100), so that GPU
# skips the JIT. nvcc is run directly (no CUDA language in CMake), so a host
# without the toolkit simply drops the format with a message.
find_program(ACCEL_NVCC nvcc
  HINTS ${CUDAToolkit_ROOT}/bin $ENV{CUDAToolkit_ROOT}/bin $ENV{CUDA_HOME}/bin /usr/local/cuda/bin
  DOC "nvcc, for the CUDA images of the kernel bundle")
if(NOT ACCEL_NVCC)
  message(STATUS "cuda kernels: nvcc not found: the kernel bundle has no ptx/cubin images")
  return()
endif()

# CUDA 13 dropped virtual architectures below compute_75: take the lowest the
# installed toolkit lists.
execute_process(COMMAND ${ACCEL_NVCC} --list-gpu-arch
  OUTPUT_VARIABLE accel_nvcc_archs ERROR_QUIET RESULT_VARIABLE accel_nvcc_result)
string(REGEX MATCHALL "compute_[0-9]+" accel_nvcc_archs "${accel_nvcc_archs}")
if(NOT accel_nvcc_result EQUAL 0 OR NOT accel_nvcc_archs)
  message(STATUS "cuda kernels: ${ACCEL_NVCC} --list-gpu-arch failed: no ptx/cubin images")
  return()
endif()
set(accel_ptx_arch "")
set(accel_ptx_number 100000)
foreach(arch IN LISTS accel_nvcc_archs)
  string(REPLACE "compute_" "" number ${arch})
  if(number LESS accel_ptx_number)
    set(accel_ptx_number ${number})
    set(accel_ptx_arch ${arch})
  endif()
endforeach()
if(accel_ptx_number LESS 75)  # sm_75 is the oldest GPU accelpool supports
  set(accel_ptx_arch compute_75)
endif()

set(accel_cuda_source ${CMAKE_CURRENT_SOURCE_DIR}/cuda/accel_kernels.cu)
set(accel_cuda_dir ${PROJECT_BINARY_DIR}/kernels/cuda)
# -ccbin: the host compiler of this build preprocesses the source.
set(accel_nvcc_flags -O3 -std=c++17 -ccbin ${CMAKE_CXX_COMPILER})

set(accel_ptx ${accel_cuda_dir}/accel_kernels.${accel_ptx_arch}.ptx)
add_custom_command(OUTPUT ${accel_ptx}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${accel_cuda_dir}
  COMMAND ${ACCEL_NVCC} ${accel_nvcc_flags} -arch=${accel_ptx_arch} -ptx
          -o ${accel_ptx} ${accel_cuda_source}
  DEPENDS ${accel_cuda_source}
  COMMENT "nvcc: CUDA kernels -> ptx (${accel_ptx_arch})"
  VERBATIM)
list(APPEND bundle_images --image ptx:${accel_ptx_arch}:${accel_ptx})
list(APPEND bundle_deps ${accel_ptx})

if("compute_90" IN_LIST accel_nvcc_archs)
  set(accel_cubin ${accel_cuda_dir}/accel_kernels.sm_90.cubin)
  add_custom_command(OUTPUT ${accel_cubin}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${accel_cuda_dir}
    COMMAND ${ACCEL_NVCC} ${accel_nvcc_flags} -arch=sm_90 -cubin
            -o ${accel_cubin} ${accel_cuda_source}
    DEPENDS ${accel_cuda_source}
    COMMENT "nvcc: CUDA kernels -> cubin (sm_90)"
    VERBATIM)
  list(APPEND bundle_images --image cubin:sm_90:${accel_cubin})
  list(APPEND bundle_deps ${accel_cubin})
  message(STATUS "cuda kernels: ${ACCEL_NVCC} -> ptx (${accel_ptx_arch}) + cubin (sm_90)")
else()
  message(STATUS "cuda kernels: ${ACCEL_NVCC} -> ptx (${accel_ptx_arch}); it cannot build sm_90, so no cubin")
endif()
