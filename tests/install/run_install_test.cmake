cmake_minimum_required(VERSION 3.22)
# Installs the build into a fresh prefix, builds separate applications against
# it, and runs them: proves the exported package. With find_package(accelpool):
# one on accelpool::hal (saxpy on a host device), one on accelpool::client (a
# lease from the installed poold). With pkg-config (accelpool.pc,
# accelpool-client.pc): the same two programs.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
# Only the installed tree may serve it: no build-tree backend path.
run(${CMAKE_COMMAND} -E env --unset=ACCEL_BACKEND_PATH ${WORK_DIR}/build/saxpy_consumer)

# The lease API, from an installed poold on loopback.
set(lib ${prefix}/${LIBDIR})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/lease_consumer -B ${WORK_DIR}/lease_build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/lease_build)
set(with_poold bash ${SOURCE_DIR}/tests/pool/with_poold.sh ${prefix}/bin/poold --)
run(${CMAKE_COMMAND} -E env --unset=ACCEL_BACKEND_PATH ${with_poold}
    ${WORK_DIR}/lease_build/lease_consumer)

# The same two programs with pkg-config and the compiler alone.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${lib}/pkgconfig)
foreach(case "accelpool;consumer;saxpy_pc" "accelpool-client;lease_consumer;lease_pc")
  list(GET case 0 package)
  list(GET case 1 source)
  list(GET case 2 program)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs ${package} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE flags ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${package} failed: ${err}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++17 -o ${WORK_DIR}/${program} ${SOURCE_DIR}/tests/install/${source}/main.cc
      "-DKERNEL_BUNDLE=\"${prefix}/share/accelpool/kernels/accel_kernels.bundle\"" ${flags})
endforeach()
run(${CMAKE_COMMAND} -E env --unset=ACCEL_BACKEND_PATH LD_LIBRARY_PATH=${lib}
    ${WORK_DIR}/saxpy_pc)
run(${CMAKE_COMMAND} -E env --unset=ACCEL_BACKEND_PATH LD_LIBRARY_PATH=${lib} ${with_poold}
    ${WORK_DIR}/lease_pc)
