// The struct parameters of param_kernels.cu, shared with
// kernel_params_test.cc so that the test's expected layout is C++'s own.
#ifndef ACCEL_TESTS_CUDA_DRIVER_PARAM_KERNEL_TYPES_H_
#define ACCEL_TESTS_CUDA_DRIVER_PARAM_KERNEL_TYPES_H_

struct Pair {
  float a;
  double b;
};
struct Small {
  char c;
  short s;
};

#endif  // ACCEL_TESTS_CUDA_DRIVER_PARAM_KERNEL_TYPES_H_
