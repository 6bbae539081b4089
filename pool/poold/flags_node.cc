// poold's flags: the node role, which serves this host's devices
// (--coordinator joins another pool; without it, poold is a one-host pool).
// Grouped in files so that poold --help lists them by role.
#include "pool/poold/flags.h"
#include "pool/poold/poold.h"

ABSL_FLAG(std::string, backends, accel::pool::PooldOptions().backends,
          "comma-separated backends to serve; 'auto' serves every vendor backend with devices, "
          "or the host backend when there is none");
ABSL_FLAG(int, host_devices, accel::pool::PooldOptions().host_devices,
          "virtual devices of the host backend");
ABSL_FLAG(std::string, host_device_memory, accel::pool::PooldOptions().host_device_memory,
          "memory of each host virtual device");
ABSL_FLAG(bool, allow_host_kernels, accel::pool::PooldOptions().allow_host_kernels,
          "run host-elf kernels sent by clients: native code, run in the session's own worker "
          "process, so allow them only for trusted clients or test pools");
ABSL_FLAG(double, max_kernel_seconds, accel::pool::PooldOptions().max_kernel_seconds,
          "the longest one launch may run on a device its lease holds alone; longer, and its "
          "session ends (DEADLINE_EXCEEDED). 0: no limit, and launches keep their pipelining");
ABSL_FLAG(double, max_shared_kernel_seconds, accel::pool::PooldOptions().max_shared_kernel_seconds,
          "the longest one launch may run on a device shared by fractional leases, where it "
          "holds up the other sessions; 0: no limit");
ABSL_FLAG(int, max_sessions, accel::pool::PooldOptions().max_sessions,
          "sessions this node serves at once (each is a worker process); more are refused "
          "with RESOURCE_EXHAUSTED");
ABSL_FLAG(std::string, session_worker, accel::pool::PooldOptions().session_worker,
          "the session worker program (default: accel-session-worker beside poold)");
ABSL_FLAG(std::string, node_name, accel::pool::PooldOptions().node_name,
          "this node's name (default: the host name)");
ABSL_FLAG(std::string, labels, accel::pool::PooldOptions().labels,
          "labels for this node's devices: zone=a,team=risk");
ABSL_FLAG(std::string, config, accel::pool::PooldOptions().config,
          "node config file: node_labels, device_labels, exclude");
ABSL_FLAG(std::string, exclude_devices, accel::pool::PooldOptions().exclude_devices,
          "devices to keep out of the pool: host:1,cuda:3");
ABSL_FLAG(std::string, coordinator, accel::pool::PooldOptions().coordinator,
          "node mode: join the pool whose coordinator serves at this address instead of "
          "running one; a highly available pool's coordinators as HOST:PORT,HOST:PORT (the "
          "node follows its leader)");
