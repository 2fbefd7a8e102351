// Device names and parsing.
#include "recforge/core/device.hpp"

#include <charconv>

#include "recforge/core/error.hpp"

namespace recforge {

std::string_view device_type_name(DeviceType type) {
  return type == DeviceType::kCPU ? "cpu" : "cuda";
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda" || text == "gpu") return cuda(0);
  if (text.starts_with("cuda:")) {
    const std::string_view digits = text.substr(5);
    int index = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && index >= 0) return cuda(index);
  }
  RF_THROW(ErrorKind::kInvalidArgument, "unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

}  // namespace recforge
