// The accelpool HAL: one memory / stream / kernel API over every backend.
#ifndef ACCEL_HAL_HAL_H_
#define ACCEL_HAL_HAL_H_

#include "accel/hal/backend.h"
#include "accel/hal/buffer.h"
#include "accel/hal/device.h"
#include "accel/hal/event.h"
#include "accel/hal/kernel_args.h"
#include "accel/hal/module.h"
#include "accel/hal/module_bundle.h"
#include "accel/hal/registry.h"
#include "accel/hal/stream.h"
#include "accel/hal/types.h"

#endif  // ACCEL_HAL_HAL_H_
