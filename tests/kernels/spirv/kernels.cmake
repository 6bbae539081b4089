# The kernel set as SPIR-V (format "spirv", any architecture), for the Level
# Zero backend: OpenCL C -> LLVM bitcode (clang-15, target spir64) -> SPIR-V
# (llvm-spirv-15). Included by tests/kernels/CMakeLists.txt, which provides
# bundle_images and bundle_deps. A missing tool drops the format with a
# message; spirv-val (Debian: spirv-tools) checks the result when present.
find_program(ACCEL_SPIRV_CLANG NAMES clang-15 clang)
find_program(ACCEL_LLVM_SPIRV NAMES llvm-spirv-15 llvm-spirv)
find_program(ACCEL_SPIRV_VAL NAMES spirv-val)
# spin() has no clock in OpenCL C: this many loop iterations make one
# microsecond. Recalibrate on new hardware (see accel_kernels.cl).
set(ACCEL_SPIRV_SPIN_ITERATIONS_PER_US 64 CACHE STRING
  "Loop iterations per microsecond of the SPIR-V spin kernel")

if(NOT ACCEL_SPIRV_CLANG OR NOT ACCEL_LLVM_SPIRV)
  message(STATUS "spirv kernels: skipped (need clang-15 and llvm-spirv-15; "
                 "Debian: clang-15 llvm-spirv-15)")
  return()
endif()

# The two tools must agree on the LLVM version: llvm-spirv-15 reads only
# LLVM 15 bitcode. A plain `clang` of another version drops the format.
execute_process(COMMAND ${ACCEL_SPIRV_CLANG} --version OUTPUT_VARIABLE _accel_clang_version
  ERROR_QUIET)
execute_process(COMMAND ${ACCEL_LLVM_SPIRV} --version OUTPUT_VARIABLE _accel_llvm_spirv_version
  ERROR_QUIET)
string(REGEX MATCH "version ([0-9]+)" _ "${_accel_clang_version}")
set(_accel_clang_major "${CMAKE_MATCH_1}")
string(REGEX MATCH "LLVM version ([0-9]+)" _ "${_accel_llvm_spirv_version}")
set(_accel_llvm_spirv_major "${CMAKE_MATCH_1}")
if(NOT _accel_clang_major OR NOT _accel_clang_major STREQUAL _accel_llvm_spirv_major)
  message(STATUS "spirv kernels: skipped (${ACCEL_SPIRV_CLANG} is LLVM "
                 "'${_accel_clang_major}', ${ACCEL_LLVM_SPIRV} is LLVM "
                 "'${_accel_llvm_spirv_major}'; they must match)")
  return()
endif()

set(_accel_spirv_dir ${PROJECT_BINARY_DIR}/kernels/spirv)
set(_accel_spirv_source ${CMAKE_CURRENT_LIST_DIR}/accel_kernels.cl)
set(_accel_spirv_bc ${_accel_spirv_dir}/accel_kernels.bc)
set(_accel_spirv_out ${_accel_spirv_dir}/accel_kernels.spv)

set(_accel_spirv_validate)
if(ACCEL_SPIRV_VAL)
  # OpenCL 2.0 environment: what the kernels are written for.
  set(_accel_spirv_validate COMMAND ${ACCEL_SPIRV_VAL} --target-env opencl2.0 ${_accel_spirv_out})
  set(_accel_spirv_note "validated with ${ACCEL_SPIRV_VAL}")
else()
  set(_accel_spirv_note "not validated: spirv-val not found (Debian: spirv-tools)")
endif()

add_custom_command(OUTPUT ${_accel_spirv_out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_accel_spirv_dir}
  # -finclude-default-header: the OpenCL builtins (get_local_id, barrier, ...)
  # without a separate header path; -O2 keeps the IL small for the driver's JIT.
  COMMAND ${ACCEL_SPIRV_CLANG} -cl-std=CL2.0 -target spir64 -emit-llvm -c -O2
          -Xclang -finclude-default-header -Wall -Wextra -Werror
          -DSPIN_ITERATIONS_PER_US=${ACCEL_SPIRV_SPIN_ITERATIONS_PER_US}
          -o ${_accel_spirv_bc} ${_accel_spirv_source}
  # SPIR-V 1.0, the version every OpenCL 2.0 / Level Zero consumer reads
  # (llvm-spirv would otherwise emit up to 1.4, which older drivers refuse).
  COMMAND ${ACCEL_LLVM_SPIRV} --spirv-max-version=1.0 ${_accel_spirv_bc} -o ${_accel_spirv_out}
  ${_accel_spirv_validate}
  DEPENDS ${_accel_spirv_source}
  COMMENT "Building the SPIR-V kernel set (${_accel_spirv_note})"
  VERBATIM)

message(STATUS "spirv kernels: ${ACCEL_SPIRV_CLANG} + ${ACCEL_LLVM_SPIRV}, ${_accel_spirv_note}")
list(APPEND bundle_images --image spirv::${_accel_spirv_out})
list(APPEND bundle_deps ${_accel_spirv_out})
