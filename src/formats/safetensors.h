// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
//
// Reading memory-maps the file and validates the header against the file's size before any
// tensor is touched; a truncated or inconsistent file is an InputError naming it.
#pragma once

#include <map>

#include "core/mapped_file.h"
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

namespace infini {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (CPU or not; any of F32, BF16, F64, I64, I32) to `path`.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  // A copy of the tensor in its stored dtype, on the CPU.
  torch::Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    torch::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t begin, end;
  };
  MappedFile file_;
  size_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of a file, in the file's name order.
NamedTensors read_safetensors(const std::string& path);

}  // namespace infini
