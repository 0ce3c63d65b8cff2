#include "layerwise/distributed/communicator.h"

#include <cerrno>
#include <cstdlib>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"

// c10d's backend headers compile only with their switches on (LibTorch's own build defines them).
#ifdef LAYERWISE_GLOO
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LAYERWISE_NCCL
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if defined(LAYERWISE_GLOO) || defined(LAYERWISE_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace layerwise::distributed {

namespace {

// An environment variable as an integer in [low, high]; `fallback` when unset.
int int_variable(const char* name, int fallback, int low, int high) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  LW_CHECK(errno == 0 && *end == '\0' && value >= low && value <= high, "environment variable ",
           name, "='", text, "' is not an integer in ", low, "..", high);
  return int(value);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

WorkerEnv worker_env_from_environment() {
  WorkerEnv env;
  env.world_size = int_variable("WORLD_SIZE", 1, 1, 1 << 20);
  env.rank = int_variable("RANK", 0, 0, env.world_size - 1);
  env.local_rank = int_variable("LOCAL_RANK", env.rank, 0, env.world_size - 1);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  env.master_port = int_variable("MASTER_PORT", env.master_port, 1, 65535);
  const char* rank = std::getenv("RANK");
  env.launched = rank && *rank;
  return env;
}

bool backend_available(const torch::Device& device) {
#ifdef LAYERWISE_NCCL
  if (device.is_cuda()) return true;
#endif
#ifdef LAYERWISE_GLOO
  if (device.is_cpu()) return true;
#endif
  (void)device;
  return false;
}

#if defined(LAYERWISE_GLOO) || defined(LAYERWISE_NCCL)

struct Communicator::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::LAYERWISE_C10D_BACKEND> group;
  std::vector<c10::intrusive_ptr<c10d::Work>> started;  // start_all_reduce_sum, not yet waited
};

namespace {

std::string what_of(const std::exception& e) {
  std::string what = e.what();
  const auto newline = what.find('\n');  // c10::Error appends a C++ stack trace
  return newline == std::string::npos ? what : what.substr(0, newline);
}

#ifdef LAYERWISE_NCCL
// ProcessGroupNCCL::shutdown() exists from PyTorch 2.2 on; older groups clean up in their
// destructor.
template <typename Group>
auto shutdown_if_supported(Group* group, int) -> decltype(group->shutdown(), void()) {
  group->shutdown();
}
template <typename Group>
void shutdown_if_supported(Group*, long) {}
#endif

}  // namespace

// Runs a c10d call, turning its failure into one line that names this rank.
#define LW_COLLECTIVE(what, ...)                                                         \
  try {                                                                                  \
    __VA_ARGS__;                                                                         \
  } catch (const std::exception& e) {                                                    \
    throw EnvironmentError(                                                              \
        str_cat("rank ", env_.rank, " of ", env_.world_size, ": ", what,                 \
                " failed (another rank stopped, or the timeout passed): ", what_of(e))); \
  }

Communicator::Communicator(const WorkerEnv& env, const torch::Device& device,
                           std::chrono::seconds timeout)
    : env_(env), device_(device), group_(std::make_unique<Group>()) {
  LW_CHECK(backend_available(device), "this build cannot train on several processes with ",
           device.str(), " tensors (",
           device.is_cuda() ? "no c10d NCCL in its LibTorch" : "built without Gloo's headers", ")");
  c10d::TCPStoreOptions options;
  options.port = uint16_t(env.master_port);
  options.isServer = env.rank == 0;
  options.numWorkers = size_t(env.world_size);
  options.waitWorkers = true;
  options.timeout = timeout;
  LW_COLLECTIVE(str_cat("the rendezvous at ", env.master_addr, ":", env.master_port),
                group_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options));
  c10::intrusive_ptr<c10d::LAYERWISE_C10D_BACKEND> group;
#ifdef LAYERWISE_NCCL
  if (device.is_cuda()) {
    auto nccl = c10d::ProcessGroupNCCL::Options::create();
    nccl->timeout = timeout;
    LW_COLLECTIVE(str_cat("joining the NCCL group (rendezvous at ", env.master_addr, ":",
                          env.master_port, ")"),
                  group = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, env.rank,
                                                                      env.world_size, nccl));
  }
#endif
#ifdef LAYERWISE_GLOO
  if (device.is_cpu()) {
    auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    LW_COLLECTIVE(
        "opening a Gloo device",
        gloo->devices.push_back(
            interface && *interface ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
            : is_loopback(env.master_addr)
                ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                : c10d::ProcessGroupGloo::createDefaultDevice()));
    LW_COLLECTIVE(str_cat("joining the Gloo group (rendezvous at ", env.master_addr, ":",
                          env.master_port, ")"),
                  group = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, env.rank,
                                                                      env.world_size, gloo));
  }
#endif
  group_->group = group;
}

Communicator::~Communicator() {
#ifdef LAYERWISE_NCCL
  // NCCL wants its communicators shut down before exit (it warns otherwise and may hang at exit
  // with work in flight); Gloo needs nothing.
  if (group_ && group_->group && device_.is_cuda()) {
    try {
      shutdown_if_supported(static_cast<c10d::ProcessGroupNCCL*>(group_->group.get()), 0);
    } catch (const std::exception&) {  // a failed peer: the error that got us here is reported
    }
  }
#endif
}

void Communicator::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  // All started, then all awaited: the transfers of one tensor overlap the reduction of the last.
  for (auto& t : tensors) start_all_reduce_sum(t);
  wait_started();
}

void Communicator::start_all_reduce_sum(torch::Tensor tensor) {
  std::vector<torch::Tensor> one{std::move(tensor)};
  LW_COLLECTIVE("all-reduce", group_->started.push_back(group_->group->allreduce(one)));
}

void Communicator::wait_started() {
  auto started = std::move(group_->started);
  group_->started.clear();
  LW_COLLECTIVE("all-reduce", for (auto& work : started) work->wait());
}

void Communicator::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  for (auto& t : tensors) {
    std::vector<torch::Tensor> one{t};
    LW_COLLECTIVE("broadcast", group_->group->broadcast(one, options)->wait());
  }
}

void Communicator::barrier() {
  LW_COLLECTIVE("barrier", group_->group->barrier()->wait());
}

#else  // no backend in this build

struct Communicator::Group {};

Communicator::Communicator(const WorkerEnv& env, const torch::Device& device, std::chrono::seconds)
    : env_(env), device_(device) {
  throw Error(
      str_cat("this build cannot train on several processes (LibTorch's c10d backends "
              "were not found when it was built); ",
              device.str(), " needs ", device.is_cuda() ? "NCCL" : "Gloo"));
}
Communicator::~Communicator() = default;
void Communicator::all_reduce_sum(std::vector<torch::Tensor>&) {}
void Communicator::start_all_reduce_sum(torch::Tensor) {}
void Communicator::wait_started() {}
void Communicator::broadcast(std::vector<torch::Tensor>&, int) {}
void Communicator::barrier() {}

#endif

}  // namespace layerwise::distributed
