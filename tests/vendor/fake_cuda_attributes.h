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
    // What libraries such as cuBLAS check before they trust a device.
    case 10:  // WARP_SIZE
      return 32;
    case 12:  // MAX_REGISTERS_PER_BLOCK
    case 82:  // MAX_REGISTERS_PER_MULTIPROCESSOR
      return 65536;
    case 39:  // MAX_THREADS_PER_MULTIPROCESSOR
      return 2048;
    case 81:  // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
      return 233472;
    case 106:  // MAX_BLOCKS_PER_MULTIPROCESSOR
      return 32;
    case 111:  // RESERVED_SHARED_MEMORY_PER_BLOCK
      return 1024;
    case 139:  // GPU_PCI_DEVICE_ID: an H100 SXM's device and NVIDIA's vendor id
      return 0x233010de;
    case kFakeUnansweredAttribute:
      return -1;
    default:
      return attribute >= 1 && attribute <= 160 ? 10000 + attribute : -1;
  }
}

// Every kernel's cuFuncGetAttribute answer, or -1 for CUDA_ERROR_INVALID_VALUE:
// values a device's own attributes would not give, so a test knows the
// answer came from the node's driver.
constexpr int FakeFunctionAttribute(int attribute) {
  switch (attribute) {
    case 0:  // MAX_THREADS_PER_BLOCK: fewer than the device's, as registers limit
      return 768;
    case 4:  // NUM_REGS
      return 40;
    default:
      return attribute >= 0 && attribute < 16 ? 20000 + attribute : -1;  // CU_FUNC_ATTRIBUTE_MAX
  }
}

// The fake's occupancy: blocks of `threads` threads and `dynamic_shared`
// bytes on one multiprocessor (2048 threads, 233472 bytes, 32 blocks at
// most); the dynamic shared memory each of `blocks` blocks may have; the
// clusters of `cluster_blocks` blocks that fit on its 132 multiprocessors.
constexpr int FakeMaxActiveBlocks(int threads, unsigned long long dynamic_shared) {
  int blocks = threads > 0 ? 2048 / threads : 0;
  if (dynamic_shared > 0 && static_cast<unsigned long long>(blocks) > 233472 / dynamic_shared) {
    blocks = static_cast<int>(233472 / dynamic_shared);
  }
  return blocks < 32 ? blocks : 32;
}
constexpr unsigned long long FakeAvailableDynamicSharedMemory(int blocks) {
  return blocks > 0 ? 233472 / blocks - 1024 : 0;
}
constexpr int FakeMaxActiveClusters(unsigned long long cluster_blocks) {
  return cluster_blocks > 0 ? static_cast<int>(132 / cluster_blocks) : 0;
}

#endif  // ACCEL_TESTS_VENDOR_FAKE_CUDA_ATTRIBUTES_H_
