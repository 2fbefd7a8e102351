// The kernel registry: (op name, device type) -> kernel function.
//
// An op is declared once, in a header, with its C++ signature:
//
//   // kernels/include/recforge/kernels/random.hpp
//   using FillUniformFn = void(const Resources&, TensorView out, std::uint64_t seed, std::uint64_t stream);
//   RF_DECLARE_OP(fill_uniform, FillUniformFn);
//
// and each device's implementation registers itself at the end of its own file:
//
//   // kernels/cpu/random.cpp                    // kernels/cuda/random.cu
//   RF_REGISTER_KERNEL(fill_uniform, kCPU, fill_uniform_cpu);
//   RF_REGISTER_KERNEL(fill_uniform, kCUDA, fill_uniform_cuda);
//
// Callers dispatch on the device of their tensors:
//
//   dispatch<fill_uniform_op>(out.device)(resources, out, seed, stream);
//
// A kernel registered with the wrong signature, a second registration for the
// same (op, device), and a missing kernel are all errors naming the places
// involved. Every op must have a CPU kernel (the reference); check_complete()
// verifies that (a test for the built-in ops, the loader for a plugin's). In
// an out-of-tree plugin library the registrations wait for the loader's ABI
// check (plugin_queue.hpp).
#pragma once

#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "recforge/core/device.hpp"
#include "recforge/core/error.hpp"
#include "recforge/registry/plugin_queue.hpp"

namespace recforge {

struct KernelInfo {
  std::string op;
  DeviceType device;
  std::string origin;  // file:line of the registration
};

class KernelRegistry {
 public:
  using AnyFn = void (*)();

  static KernelRegistry& instance();

  // Registers `fn` (type-erased) for (op, device); throws on a duplicate or a signature mismatch.
  void add(std::string_view op, DeviceType device, std::type_index signature, AnyFn fn, std::string origin);
  // The kernel for (op, device), or nullptr.
  AnyFn find(std::string_view op, DeviceType device, std::type_index signature) const;
  // Like find() but throws a kNotFound Error listing the devices that do have the op.
  AnyFn get(std::string_view op, DeviceType device, std::type_index signature) const;
  bool has(std::string_view op, DeviceType device) const;

  std::vector<KernelInfo> list() const;
  // Throws listing every op that has a kernel for some device but none for the CPU.
  void check_complete() const;
  // Entries are only appended: the loader undoes a refused library's
  // registrations by rolling back to the count it saw before.
  std::size_t count() const { return entries_.size(); }
  void roll_back_to(std::size_t count);
  // Removes a registration (tests only).
  void remove_for_testing(std::string_view op, DeviceType device);

 private:
  KernelRegistry() = default;
  struct Entry {
    std::string op;
    DeviceType device;
    std::type_index signature;
    AnyFn fn;
    std::string origin;
  };
  std::vector<Entry> entries_;
};

template <class Op>
typename Op::Fn* find_kernel(Device device) {
  return reinterpret_cast<typename Op::Fn*>(
      KernelRegistry::instance().find(Op::kName, device.type, typeid(typename Op::Fn)));
}

// The kernel of op `Op` for `device`; throws a clear error when none is registered.
template <class Op>
typename Op::Fn* dispatch(Device device) {
  return reinterpret_cast<typename Op::Fn*>(
      KernelRegistry::instance().get(Op::kName, device.type, typeid(typename Op::Fn)));
}

namespace detail {
#ifndef RECFORGE_PLUGIN_LIBRARY
template <class Op>
struct KernelRegistrar {
  KernelRegistrar(DeviceType device, typename Op::Fn* fn, const char* file, int line) {
    KernelRegistry::instance().add(Op::kName, device, typeid(typename Op::Fn),
                                   reinterpret_cast<KernelRegistry::AnyFn>(fn), source_location(file, line));
  }
};
#else
// Inside a plugin library: queued like its models (plugin_queue.hpp), so a
// library the loader refuses registers no kernel it would then unload.
template <class Op>
struct KernelRegistrar {
  KernelRegistrar(DeviceType device, typename Op::Fn* fn, const char* file, int line) {
    const std::string where = source_location(file, line);
    pending_plugin_registrations().push_back([=](const std::string& library) {
      KernelRegistry::instance().add(Op::kName, device, typeid(typename Op::Fn),
                                     reinterpret_cast<KernelRegistry::AnyFn>(fn), library + " (" + where + ")");
    });
  }
};
#endif
}  // namespace detail
}  // namespace recforge

#define RF_CONCAT_INNER(a, b) a##b
#define RF_CONCAT(a, b) RF_CONCAT_INNER(a, b)

// Declares op `name` with function type `Signature`, as struct `name##_op`.
#define RF_DECLARE_OP(name, Signature)                     \
  struct name##_op {                                       \
    static constexpr const char* kName = #name;            \
    using Fn = Signature;                                  \
  }

// Registers `fn` as the kernel of op `name` on device type `device` (kCPU or kCUDA).
#define RF_REGISTER_KERNEL(name, device, fn)                                                    \
  static const ::recforge::detail::KernelRegistrar<name##_op> RF_CONCAT(rf_kernel_registrar_, \
                                                                        __LINE__)(            \
      ::recforge::DeviceType::device, &(fn), __FILE__, __LINE__)
