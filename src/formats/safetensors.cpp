#include "formats/safetensors.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace infini {

namespace {

const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> names = {
      {"F32", torch::kFloat32}, {"BF16", torch::kBFloat16}, {"F16", torch::kFloat16},
      {"F64", torch::kFloat64}, {"I64", torch::kInt64},     {"I32", torch::kInt32},
      {"I16", torch::kInt16},   {"I8", torch::kInt8},       {"U8", torch::kUInt8},
      {"BOOL", torch::kBool}};
  return names;
}

std::string dtype_to_name(torch::ScalarType dtype) {
  for (const auto& [name, type] : dtype_names()) {
    if (type == dtype) return name;
  }
  throw std::runtime_error(std::string("safetensors: cannot store dtype ") + c10::toString(dtype));
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  // {"format": "pt"} as torch's safetensors writer puts it: several transformers releases refuse
  // a file without it.
  auto tagged = metadata;
  tagged.emplace("format", "pt");
  header["__metadata__"] = tagged;
  std::vector<torch::Tensor> contiguous;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype_to_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  uint64_t length = text.size();  // little-endian on every platform we build for
  out.write(reinterpret_cast<const char*>(&length), sizeof(length));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : contiguous) {
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  }
  out.flush();
  if (!out) throw std::runtime_error("failed writing " + path);
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const size_t size = file_.size();
  const char* bytes = file_.data();
  auto fail = [&](const std::string& why) { throw InputError(path + ": " + why); };
  if (size < 8) fail("truncated safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes, sizeof(header_length));
  if (header_length > size - 8) fail("truncated safetensors file: header of " + std::to_string(header_length) +
                                     " bytes but the file has " + std::to_string(size) + " bytes");
  data_start_ = 8 + header_length;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + data_start_);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("unreadable safetensors header: ") + e.what());
  }
  if (!header.is_object()) fail("safetensors header is not a JSON object");
  const size_t data_size = size - data_start_;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : info.items()) metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    Entry entry{};
    try {
      std::string dtype = info.at("dtype").get<std::string>();
      bool known = false;
      for (const auto& [n, type] : dtype_names()) {
        if (n == dtype) entry.dtype = type, known = true;
      }
      if (!known) fail("tensor '" + name + "' has unsupported dtype " + dtype);
      entry.shape = info.at("shape").get<std::vector<int64_t>>();
      auto offsets = info.at("data_offsets").get<std::vector<size_t>>();
      if (offsets.size() != 2) fail("tensor '" + name + "': data_offsets must hold two numbers");
      entry.begin = offsets[0];
      entry.end = offsets[1];
    } catch (const nlohmann::json::exception& e) {
      fail("tensor '" + name + "': malformed header entry (" + e.what() + ")");
    }
    int64_t numel = 1;
    for (auto d : entry.shape) {
      if (d < 0) fail("tensor '" + name + "' has a negative dimension");
      if (d > 0 && numel > (int64_t{1} << 56) / d) fail("tensor '" + name + "' has a shape past any file size");
      numel *= d;
    }
    const size_t expected = static_cast<size_t>(numel) * c10::elementSize(entry.dtype);
    if (entry.end < entry.begin || entry.end - entry.begin != expected) {
      fail("tensor '" + name + "': data_offsets span " + std::to_string(entry.end - entry.begin) +
           " bytes but its shape and dtype need " + std::to_string(expected));
    }
    if (entry.end > data_size) {
      fail("truncated safetensors file: tensor '" + name + "' ends at byte " + std::to_string(entry.end) +
           " of a " + std::to_string(data_size) + "-byte data section");
    }
    spans.emplace_back(entry.begin, entry.end);
    entries_[name] = entry;
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) fail("tensors overlap in the data section");
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw InputError(file_.path() + ": no tensor named '" + name + "'");
  const auto& e = it->second;
  auto* data = const_cast<char*>(file_.data()) + data_start_ + e.begin;
  if (e.end == e.begin) return torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
  return torch::from_blob(data, e.shape, torch::TensorOptions().dtype(e.dtype)).clone();
}

NamedTensors read_safetensors(const std::string& path) {
  SafetensorsFile file(path);
  NamedTensors out;
  for (const auto& name : file.names()) out.emplace_back(name, file.tensor(name));
  return out;
}

}  // namespace infini
