// Where a tensor lives: the CPU or a CUDA device with an index.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace recforge {

enum class DeviceType : std::uint8_t { kCPU = 0, kCUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

std::string_view device_type_name(DeviceType type);

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::kCPU, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::kCUDA, index}; }
  constexpr bool is_cpu() const { return type == DeviceType::kCPU; }
  constexpr bool is_cuda() const { return type == DeviceType::kCUDA; }
  // "cpu" or "cuda:0"
  std::string str() const;
  // Parses "cpu", "cuda", "cuda:3"; throws Error naming the text otherwise.
  static Device parse(std::string_view text);

  friend constexpr bool operator==(Device a, Device b) {
    return a.type == b.type && (a.type == DeviceType::kCPU || a.index == b.index);
  }
};

}  // namespace recforge
