// The attributes of the fake libcuda's device (tests/vendor/fake_cuda_driver.cc),
// shared with the tests that check them on the far side of the backend, a
// node and accelpool's libcuda.so.1.
#ifndef ACCEL_TESTS_VENDOR_FAKE_CUDA_ATTRIBUTES_H_
#define ACCEL_TESTS_VENDOR_FAKE_CUDA_ATTRIBUTES_H_

// An attribute the fake's driver does not answer, as a driver older than
// the program's cuda.h does not know a newer attribute.
constexpr int kFakeUnansweredAttribute = 140;  // GPU_PCI_SUBSYSTEM_ID

// The value of `attribute` (a CUdevice_attribute number), or -1 when the
// fake answers CUDA_ERROR_INVALID_VALUE. Values a real device of compute
// capability 9.0 could have where the backend reads them; elsewhere a
// value no fallback would give (10000 + the number).
constexpr int FakeAttribute(int attribute) {
  switch (attribute) {
    case 1:  // MAX_THREADS_PER_BLOCK
      return 1024;
    case 2:  // MAX_BLOCK_DIM_X
    case 3:  // MAX_BLOCK_DIM_Y
      return 1024;
    case 4:  // MAX_BLOCK_DIM_Z
      return 64;
    case 5:  // MAX_GRID_DIM_X
      return 2147483647;
    case 6:  // MAX_GRID_DIM_Y
    case 7:  // MAX_GRID_DIM_Z
      return 65535;
    case 8:  // MAX_SHARED_MEMORY_PER_BLOCK
      return 49152;
    case 16:  // MULTIPROCESSOR_COUNT
      return 132;
    case 75:  // COMPUTE_CAPABILITY_MAJOR
      return 9;
    case 76:  // COMPUTE_CAPABILITY_MINOR
      return 0;
    case 97:  // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
      return 232448;
    case kFakeUnansweredAttribute:
      return -1;
    default:
      return attribute >= 1 && attribute <= 160 ? 10000 + attribute : -1;
  }
}

#endif  // ACCEL_TESTS_VENDOR_FAKE_CUDA_ATTRIBUTES_H_
