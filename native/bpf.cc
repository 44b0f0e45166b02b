#include "bpf.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "errno_error.h"

namespace nsvirt {
namespace {

// Owns a file descriptor; closes it when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(-1); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset(int fd) {
    // close() may report EINTR or EIO, but the descriptor is released either
    // way and there is nobody left to tell: ignoring the result is all we can do.
    if (fd_ >= 0) (void)close(fd_);
    fd_ = fd;
  }

  int fd_ = -1;
};

// A failed system call: errno, the call, and what helps explain it.
struct SysError {
  int err = 0;
  const char* syscall = "";
  std::string path;         // the file it concerned, if any
  std::string verifierLog;  // BPF_PROG_LOAD only

  bool failed() const { return err != 0; }
};

SysError Ok() { return SysError{}; }
SysError Failure(const char* syscall, std::string path = {}) { return SysError{errno, syscall, std::move(path), {}}; }

void ThrowSysError(Napi::Env env, const SysError& failure) {
  Napi::Error error = ErrnoError(env, failure.err, failure.syscall);
  std::string message = error.Message();
  if (!failure.path.empty()) {
    message += " '" + failure.path + "'";
    error.Value().Set("path", Napi::String::New(env, failure.path));
  }
  if (!failure.verifierLog.empty()) message += "\nverifier log:\n" + failure.verifierLog;
  error.Value().Set("message", Napi::String::New(env, message));
  error.ThrowAsJavaScriptException();
}

// bpf(2), restarted on EINTR. Returns the result, or -1 with errno set.
long Bpf(bpf_cmd cmd, bpf_attr* attr) {
  for (;;) {
    const long result = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
    if (result >= 0 || errno != EINTR) return result;
  }
}

uint64_t Pointer(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

SysError OpenCgroup(const std::string& dir, UniqueFd* out) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failure("open", dir);
  *out = UniqueFd(fd);
  return Ok();
}

// Big enough for the verifier's report on any program we generate; the
// kernel keeps the end of a longer log, where the error is.
constexpr size_t kVerifierLogSize = 256 * 1024;

long LoadDeviceProgram(const void* insns, size_t count, char* log, size_t logSize) {
  static const char kLicense[] = "GPL";
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insn_cnt = static_cast<uint32_t>(count);
  attr.insns = Pointer(insns);
  attr.license = Pointer(kLicense);
  strncpy(attr.prog_name, "nsvirt_devices", sizeof(attr.prog_name) - 1);
  if (log != nullptr) {
    attr.log_level = 1;
    attr.log_buf = Pointer(log);
    attr.log_size = static_cast<uint32_t>(logSize);
  }
  return Bpf(BPF_PROG_LOAD, &attr);
}

// Loads without a log first (a log costs verifier time and may overflow);
// only when that fails, loads again to capture the verifier's explanation.
SysError LoadProgram(const void* insns, size_t count, UniqueFd* out) {
  long fd = LoadDeviceProgram(insns, count, nullptr, 0);
  if (fd >= 0) {
    *out = UniqueFd(static_cast<int>(fd));
    return Ok();
  }
  SysError failure = Failure("bpf(BPF_PROG_LOAD)");
  std::vector<char> log(kVerifierLogSize, '\0');
  fd = LoadDeviceProgram(insns, count, log.data(), log.size());
  if (fd >= 0) {
    *out = UniqueFd(static_cast<int>(fd));
    return Ok();
  }
  log.back() = '\0';
  failure.verifierLog = log.data();
  while (!failure.verifierLog.empty() && failure.verifierLog.back() == '\n') failure.verifierLog.pop_back();
  return failure;
}

SysError ProgramById(uint32_t id, UniqueFd* out) {
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_id = id;
  const long fd = Bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) return Failure("bpf(BPF_PROG_GET_FD_BY_ID)");
  *out = UniqueFd(static_cast<int>(fd));
  return Ok();
}

SysError ProgramId(int progFd, uint32_t* id) {
  bpf_prog_info info;
  memset(&info, 0, sizeof(info));
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = static_cast<uint32_t>(progFd);
  attr.info.info_len = sizeof(info);
  attr.info.info = Pointer(&info);
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) return Failure("bpf(BPF_OBJ_GET_INFO_BY_FD)");
  *id = info.id;
  return Ok();
}

// Attaches alongside other programs (BPF_F_ALLOW_MULTI); with `replaceFd`,
// swaps that program for the new one in a single step.
SysError Attach(int cgroupFd, int progFd, const UniqueFd& replace) {
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cgroupFd);
  attr.attach_bpf_fd = static_cast<uint32_t>(progFd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (replace.valid()) {
    attr.attach_flags |= BPF_F_REPLACE;
    attr.replace_bpf_fd = static_cast<uint32_t>(replace.get());
  }
  if (Bpf(BPF_PROG_ATTACH, &attr) < 0) return Failure("bpf(BPF_PROG_ATTACH)");
  return Ok();
}

SysError Detach(int cgroupFd, int progFd) {
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cgroupFd);
  attr.attach_bpf_fd = static_cast<uint32_t>(progFd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (Bpf(BPF_PROG_DETACH, &attr) < 0) return Failure("bpf(BPF_PROG_DETACH)");
  return Ok();
}

// Programs attached to the cgroup itself (not inherited ones).
SysError QueryAttached(int cgroupFd, std::vector<uint32_t>* ids) {
  // The list can grow between sizing it and reading it: then ENOSPC, try again.
  for (uint32_t capacity = 8;;) {
    ids->assign(capacity, 0);
    bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = static_cast<uint32_t>(cgroupFd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = Pointer(ids->data());
    attr.query.prog_cnt = capacity;
    if (Bpf(BPF_PROG_QUERY, &attr) >= 0) {
      ids->resize(attr.query.prog_cnt);
      return Ok();
    }
    if (errno != ENOSPC) return Failure("bpf(BPF_PROG_QUERY)");
    capacity = attr.query.prog_cnt > capacity ? attr.query.prog_cnt : capacity * 2;
  }
}

// --- JavaScript arguments ---

bool ReadString(const Napi::CallbackInfo& info, size_t index, const char* what, std::string* out) {
  if (info.Length() <= index || !info[index].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  return true;
}

// A program id: a positive 32-bit integer. `optional` accepts undefined as 0.
bool ReadProgramId(const Napi::CallbackInfo& info, size_t index, bool optional, uint32_t* out) {
  if (optional && (info.Length() <= index || info[index].IsUndefined())) {
    *out = 0;
    return true;
  }
  const double value = info.Length() > index && info[index].IsNumber() ? info[index].As<Napi::Number>().DoubleValue() : -1;
  if (!(value >= 1 && value <= UINT32_MAX && std::floor(value) == value)) {
    Napi::TypeError::New(info.Env(), "program id must be a positive 32-bit integer").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(value);
  return true;
}

bool ReadInstructions(const Napi::CallbackInfo& info, size_t index, Napi::Buffer<uint8_t>* out) {
  if (info.Length() <= index || !info[index].IsBuffer()) {
    Napi::TypeError::New(info.Env(), "instructions must be a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::Buffer<uint8_t>>();
  if (out->Length() == 0 || out->Length() % sizeof(bpf_insn) != 0) {
    Napi::RangeError::New(info.Env(), "instructions must be a non-empty array of 8-byte struct bpf_insn")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// deviceFilterAttach(cgroupDir, insns, replaceProgId?): loads the program,
// attaches it to the cgroup (in place of replaceProgId when given) and
// returns its id. The cgroup holds the only reference left, so detaching
// or replacing the program frees it.
Napi::Value DeviceFilterAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  Napi::Buffer<uint8_t> insns;
  uint32_t replaceId = 0;
  if (!ReadString(info, 0, "cgroup directory", &dir) || !ReadInstructions(info, 1, &insns) ||
      !ReadProgramId(info, 2, true, &replaceId)) {
    return env.Undefined();
  }
  UniqueFd cgroup;
  UniqueFd replace;
  UniqueFd program;
  uint32_t id = 0;
  SysError failure = OpenCgroup(dir, &cgroup);
  if (!failure.failed() && replaceId != 0) failure = ProgramById(replaceId, &replace);
  if (!failure.failed()) failure = LoadProgram(insns.Data(), insns.Length() / sizeof(bpf_insn), &program);
  if (!failure.failed()) failure = ProgramId(program.get(), &id);
  if (!failure.failed()) failure = Attach(cgroup.get(), program.get(), replace);
  if (failure.failed()) {
    ThrowSysError(env, failure);
    return env.Undefined();
  }
  return Napi::Number::New(env, id);
}

// deviceFilterDetach(cgroupDir, progId)
Napi::Value DeviceFilterDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  uint32_t id = 0;
  if (!ReadString(info, 0, "cgroup directory", &dir) || !ReadProgramId(info, 1, false, &id)) return env.Undefined();
  UniqueFd cgroup;
  UniqueFd program;
  SysError failure = OpenCgroup(dir, &cgroup);
  if (!failure.failed()) failure = ProgramById(id, &program);
  if (!failure.failed()) failure = Detach(cgroup.get(), program.get());
  if (failure.failed()) ThrowSysError(env, failure);
  return env.Undefined();
}

// deviceFilterQuery(cgroupDir): ids of the device programs attached to the cgroup, in run order.
Napi::Value DeviceFilterQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  if (!ReadString(info, 0, "cgroup directory", &dir)) return env.Undefined();
  UniqueFd cgroup;
  std::vector<uint32_t> ids;
  SysError failure = OpenCgroup(dir, &cgroup);
  if (!failure.failed()) failure = QueryAttached(cgroup.get(), &ids);
  if (failure.failed()) {
    ThrowSysError(env, failure);
    return env.Undefined();
  }
  Napi::Array result = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) result.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ids[i]));
  return result;
}

}  // namespace

void RegisterBpfFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceFilterAttach", Napi::Function::New(env, DeviceFilterAttach, "deviceFilterAttach"));
  exports.Set("deviceFilterDetach", Napi::Function::New(env, DeviceFilterDetach, "deviceFilterDetach"));
  exports.Set("deviceFilterQuery", Napi::Function::New(env, DeviceFilterQuery, "deviceFilterQuery"));
}

}  // namespace nsvirt
