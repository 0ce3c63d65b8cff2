#include "layerwise/distributed/launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "layerwise/core/error.h"

namespace layerwise::distributed {

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  LW_CHECK(fd >= 0, "cannot open a socket: ", std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // the kernel picks
  socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  ::close(fd);
  LW_CHECK(ok, "cannot find a free TCP port on 127.0.0.1: ", std::strerror(error));
  return ntohs(address.sin_port);
}

std::vector<std::string> own_arguments_without(const std::string& flag) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  LW_CHECK(in, "cannot read this program's arguments (/proc/self/cmdline)");
  std::vector<std::string> all;
  for (std::string arg; std::getline(in, arg, '\0');) all.push_back(arg);
  std::vector<std::string> kept;
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i] == flag) {
      ++i;  // and its value
    } else if (all[i].rfind(flag + "=", 0) != 0) {
      kept.push_back(all[i]);
    }
  }
  return kept;
}

namespace {

std::string self_executable() {
  std::string path(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  LW_CHECK(n > 0, "cannot find this program's path (/proc/self/exe): ", std::strerror(errno));
  path.resize(size_t(n));
  return path;
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int run_local_workers(int nproc, const std::vector<std::string>& args, int grace_seconds) {
  LW_CHECK(nproc >= 1, "--nproc must be at least 1, got ", nproc);
  const std::string program = self_executable();
  const std::string port = std::to_string(free_local_port());
  std::vector<pid_t> workers;
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    LW_CHECK(pid >= 0, "cannot start worker ", rank, ": ", std::strerror(errno));
    if (pid == 0) {  // the worker: torchrun's variables, then this program again
      const std::string r = std::to_string(rank), n = std::to_string(nproc);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("WORLD_SIZE", n.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(program.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      std::fprintf(stderr, "error: cannot start worker %d (%s): %s\n", rank, program.c_str(),
                   std::strerror(errno));
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  // Which status to report: a worker's own failure (bad input: 2, a crash: 128 + signal) rather
  // than the environment failures (3) it caused in the others' collectives, and never the signal
  // this launcher sent. A first failure of status 3 leaves the others a grace period to fail on
  // their own (they will: their collectives lose a peer) before they are stopped.
  constexpr int kEnvironment = 3;
  int first_failure = 0, cause = 0, running = nproc;
  bool signalled = false;
  using Clock = std::chrono::steady_clock;
  auto stop_at = Clock::time_point::max(), kill_at = Clock::time_point::max();
  auto stop_all = [&](int signal) {
    for (const pid_t pid : workers)
      if (pid > 0) ::kill(pid, signal);
    signalled = true;
  };
  while (running > 0) {
    int status = 0;
    const bool waiting = stop_at != Clock::time_point::max() || kill_at != Clock::time_point::max();
    const pid_t pid = ::waitpid(-1, &status, waiting ? WNOHANG : 0);
    const auto now = Clock::now();
    if (pid == 0) {  // a failure happened: the others get their grace periods
      if (now >= kill_at) {
        stop_all(SIGKILL);
        kill_at = Clock::time_point::max();
      } else if (now >= stop_at) {
        stop_all(SIGTERM);
        stop_at = Clock::time_point::max();
        kill_at = now + std::chrono::seconds(grace_seconds);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // no children left
    }
    for (auto& w : workers)
      if (w == pid) w = -1;
    --running;
    const int code = exit_status(status);
    if (code == 0) continue;
    const bool ours = signalled && (code == 128 + SIGTERM || code == 128 + SIGKILL);
    if (cause == 0 && code != kEnvironment && !ours) cause = code;
    if (first_failure == 0) {
      first_failure = code;
      stop_at = code == kEnvironment ? now + std::chrono::seconds(grace_seconds) : now;
    }
  }
  return cause != 0 ? cause : first_failure;
}

}  // namespace layerwise::distributed
