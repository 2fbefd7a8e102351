// KernelRegistry: a small vector of entries. Registration happens during static
// initialisation (single-threaded); lookups afterwards are read-only.
#include "recforge/registry/kernel_registry.hpp"

#include <algorithm>
#include <set>

namespace recforge {

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry registry;
  return registry;
}

void KernelRegistry::add(std::string_view op, DeviceType device, std::type_index signature, AnyFn fn,
                         std::string origin) {
  for (const Entry& e : entries_) {
    if (e.op != op) continue;
    RF_CHECK_KIND(ErrorKind::kInternal, e.signature == signature, "kernel for op '", op, "' registered at ",
                  origin, " has a different signature from the one registered at ", e.origin);
    RF_CHECK_KIND(ErrorKind::kInternal, e.device != device, "op '", op, "' has two ",
                  device_type_name(device), " kernels: ", e.origin, " and ", origin);
  }
  entries_.push_back(Entry{std::string(op), device, signature, fn, std::move(origin)});
}

KernelRegistry::AnyFn KernelRegistry::find(std::string_view op, DeviceType device,
                                           std::type_index signature) const {
  for (const Entry& e : entries_) {
    if (e.op == op && e.device == device) {
      RF_CHECK_KIND(ErrorKind::kInternal, e.signature == signature, "op '", op,
                    "' is called with a different signature from its kernel registered at ", e.origin);
      return e.fn;
    }
  }
  return nullptr;
}

KernelRegistry::AnyFn KernelRegistry::get(std::string_view op, DeviceType device,
                                          std::type_index signature) const {
  if (AnyFn fn = find(op, device, signature)) return fn;
  std::string available;
  for (const Entry& e : entries_) {
    if (e.op != op) continue;
    if (!available.empty()) available += ", ";
    available += device_type_name(e.device);
  }
  RF_THROW(ErrorKind::kNotFound, "no ", device_type_name(device), " kernel registered for op '", op, "'",
           available.empty() ? std::string(" (the op has no kernels at all; is its library linked?)")
                             : " (available on: " + available + ")");
}

bool KernelRegistry::has(std::string_view op, DeviceType device) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.op == op && e.device == device; });
}

std::vector<KernelInfo> KernelRegistry::list() const {
  std::vector<KernelInfo> out;
  for (const Entry& e : entries_) out.push_back(KernelInfo{e.op, e.device, e.origin});
  std::sort(out.begin(), out.end(), [](const KernelInfo& a, const KernelInfo& b) {
    return a.op != b.op ? a.op < b.op : a.device < b.device;
  });
  return out;
}

void KernelRegistry::check_complete() const {
  std::set<std::string> missing;
  for (const Entry& e : entries_) {
    if (!has(e.op, DeviceType::kCPU)) missing.insert(e.op + " (registered at " + e.origin + ")");
  }
  if (missing.empty()) return;
  std::string names;
  for (const std::string& m : missing) names += "\n  " + m;
  RF_THROW(ErrorKind::kInternal, "missing CPU reference kernel for ", missing.size(),
           " op(s); every op needs one:", names);
}

void KernelRegistry::roll_back_to(std::size_t count) {
  if (count < entries_.size())
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(count), entries_.end());
}

void KernelRegistry::remove_for_testing(std::string_view op, DeviceType device) {
  std::erase_if(entries_, [&](const Entry& e) { return e.op == op && e.device == device; });
}

}  // namespace recforge
