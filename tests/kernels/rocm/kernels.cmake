# hsaco code objects of the kernel set for the rocm backend, one per GPU
# target, included by tests/kernels/CMakeLists.txt (bundle_images and
# bundle_deps are in scope).
#
# The compiler is plain LLVM clang (Debian 12: clang-15, with ld.lld from
# lld): `-x hip --cuda-device-only --offload-arch=gfxN -nogpuinc -nogpulib`
# compiles accel_kernels.hip straight to a linked AMDGPU code object that
# hipModuleLoadData loads. No hipcc, HIP device headers or ROCm device
# libraries are needed: the kernels use clang's AMDGPU builtins only.
# A missing or unable compiler drops the format with a message.

# gfx942 (MI300) is not in the default list: clang-15, Debian 12's compiler,
# rejects it ("invalid target ID 'gfx942'"). With a newer clang found below,
# add it with -DACCEL_HSACO_TARGETS=...;gfx942.
set(ACCEL_HSACO_TARGETS "gfx906;gfx908;gfx90a;gfx1030;gfx1100" CACHE STRING
  "GPU targets to build hsaco kernel images for (empty: none)")

# clang 15 is the oldest that knows gfx11 and --no-gpu-bundle-output well.
find_program(ACCEL_HIP_CLANG NAMES clang-19 clang-18 clang-17 clang-16 clang-15
  DOC "clang used to compile the HIP kernel set to hsaco code objects")

set(_accel_hsaco_flags -x hip --cuda-device-only --no-gpu-bundle-output -nogpuinc -nogpulib
  -O3 -mcode-object-version=4 -Wall -Wextra)

if(NOT ACCEL_HIP_CLANG)
  message(STATUS "rocm kernels: no clang >= 15 found; hsaco images skipped "
    "(Debian: apt-get install clang-15 lld)")
elseif(NOT ACCEL_HSACO_TARGETS)
  message(STATUS "rocm kernels: ACCEL_HSACO_TARGETS is empty; hsaco images skipped")
else()
  # Prove at configure time that this clang can do it for each target (it
  # needs the AMDGPU backend and an ld.lld it can find); a target it cannot
  # build is dropped rather than failing the build.
  set(_accel_probe_dir ${CMAKE_CURRENT_BINARY_DIR}/rocm_probe)
  file(MAKE_DIRECTORY ${_accel_probe_dir})
  file(WRITE ${_accel_probe_dir}/probe.hip
    "extern \"C\" __attribute__((global)) void probe(int* p) { *p = 1; }\n")
  set(_accel_hsaco_targets "")
  foreach(gfx IN LISTS ACCEL_HSACO_TARGETS)
    execute_process(
      COMMAND ${ACCEL_HIP_CLANG} ${_accel_hsaco_flags} --offload-arch=${gfx}
              ${_accel_probe_dir}/probe.hip -o ${_accel_probe_dir}/probe_${gfx}.hsaco
      RESULT_VARIABLE _accel_probe_result
      OUTPUT_VARIABLE _accel_probe_output
      ERROR_VARIABLE _accel_probe_output)
    if(_accel_probe_result EQUAL 0)
      list(APPEND _accel_hsaco_targets ${gfx})
    else()
      string(STRIP "${_accel_probe_output}" _accel_probe_output)
      message(STATUS "rocm kernels: ${ACCEL_HIP_CLANG} cannot build ${gfx}; skipped "
        "(${_accel_probe_output})")
    endif()
  endforeach()

  if(_accel_hsaco_targets)
    message(STATUS "rocm kernels: hsaco for ${_accel_hsaco_targets} with ${ACCEL_HIP_CLANG}")
    set(_accel_hsaco_dir ${PROJECT_BINARY_DIR}/kernels/rocm)
    set(_accel_hsaco_source ${CMAKE_CURRENT_LIST_DIR}/accel_kernels.hip)
    foreach(gfx IN LISTS _accel_hsaco_targets)
      set(_accel_hsaco ${_accel_hsaco_dir}/accel_kernels_${gfx}.hsaco)
      add_custom_command(OUTPUT ${_accel_hsaco}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${_accel_hsaco_dir}
        COMMAND ${ACCEL_HIP_CLANG} ${_accel_hsaco_flags} --offload-arch=${gfx}
                ${_accel_hsaco_source} -o ${_accel_hsaco}
        DEPENDS ${_accel_hsaco_source}
        COMMENT "Compiling the HIP kernel set for ${gfx}"
        VERBATIM)
      list(APPEND bundle_images --image hsaco:${gfx}:${_accel_hsaco})
      list(APPEND bundle_deps ${_accel_hsaco})
    endforeach()
  else()
    message(STATUS "rocm kernels: no GPU target buildable; hsaco images skipped")
  endif()
endif()
