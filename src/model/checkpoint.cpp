#include "model/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/errors.h"

namespace fs = std::filesystem;

namespace infini {

namespace {

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string target) : target_(std::move(target)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  fs::path target_path(target_);
  if (target_path.has_parent_path()) fs::create_directories(target_path.parent_path());
  staging_ = target_ + ".staging-" + std::to_string(::getpid());
  fs::remove_all(staging_);
  fs::create_directory(staging_);
}

CheckpointWriter::~CheckpointWriter() {
  if (!committed_) {
    std::error_code ignored;
    fs::remove_all(staging_, ignored);
  }
}

void CheckpointWriter::write_text(const std::string& name, const std::string& text) {
  std::ofstream out(staging_ + "/" + name, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("failed writing " + staging_ + "/" + name);
}

void CheckpointWriter::copy_file(const std::string& name, const std::string& source) {
  fs::copy_file(source, staging_ + "/" + name, fs::copy_options::overwrite_existing);
}

void CheckpointWriter::write_tensors(const std::string& name, const NamedTensors& tensors) {
  write_safetensors(staging_ + "/" + name, tensors);
}

void CheckpointWriter::commit() {
  for (const auto& entry : fs::directory_iterator(staging_)) fsync_path(entry.path(), false);
  fsync_path(staging_, true);
  if (!fs::exists(target_)) {
    fs::rename(staging_, target_);
  } else {
    // Swap the two directories in one step, then drop the old one (now at the staging name).
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
      throw std::runtime_error("cannot swap " + staging_ + " into " + target_ + ": " + std::strerror(errno));
    }
    fs::remove_all(staging_);
  }
  fs::path parent = fs::path(target_).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), true);
  committed_ = true;
}

void stage_model(CheckpointWriter& writer, Decoder& decoder, const std::string& tokenizer) {
  const auto& config = decoder->config();
  writer.write_text("config.json", model_config_to_json(config).dump(2) + "\n");
  const auto dtype = config.torch_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  NamedTensors tensors;
  for (const auto& item : decoder->named_parameters()) tensors.emplace_back(item.key(), item.value().to(dtype));
  writer.write_tensors("model.safetensors", tensors);
  if (!tokenizer.empty()) writer.copy_file("tokenizer.model", tokenizer);
}

void save_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer) {
  CheckpointWriter writer(dir);
  stage_model(writer, decoder, tokenizer);
  writer.commit();
}

ModelConfig read_model_config(const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir + ": not a checkpoint directory");
  const std::string path = dir + "/config.json";
  if (!fs::exists(path)) throw InputError(path + ": missing (a checkpoint needs config.json)");
  return model_config_from_json(read_json_file(path), path);
}

std::string tokenizer_path(const std::string& dir) {
  const std::string path = dir + "/tokenizer.model";
  if (!fs::exists(path)) throw InputError(path + ": missing (a checkpoint needs its SentencePiece model)");
  return path;
}

Decoder load_model(const std::string& dir, torch::Device device) {
  ModelConfig config = read_model_config(dir);
  Decoder decoder(config);

  // Which file holds each tensor: one model.safetensors, or the shards an index names.
  std::map<std::string, std::string> location;
  std::vector<std::string> files;
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (fs::exists(dir + "/model.safetensors")) {
    files.push_back(dir + "/model.safetensors");
  } else if (fs::exists(index_path)) {
    auto index = read_json_file(index_path);
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw InputError(index_path + ": expected a \"weight_map\" object");
    }
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) {
      location[name] = dir + "/" + file.get<std::string>();
      shards.insert(location[name]);
    }
    files.assign(shards.begin(), shards.end());
  } else {
    throw InputError(dir + ": no model.safetensors or model.safetensors.index.json");
  }

  torch::NoGradGuard no_grad;
  std::set<std::string> wanted;
  auto params = decoder->named_parameters();
  for (const auto& item : params) wanted.insert(item.key());
  std::set<std::string> loaded;
  for (const auto& path : files) {
    SafetensorsFile file(path);
    for (const auto& name : file.names()) {
      if (!wanted.count(name)) {
        // HF checkpoints may carry derived buffers or an lm_head duplicate of tied embeddings.
        if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
        if (name == "lm_head.weight" && config.tie_word_embeddings) continue;
        throw InputError(path + ": unexpected tensor '" + name + "' for this config.json");
      }
      auto& param = params[name];
      auto stored = file.tensor(name);
      if (stored.sizes() != param.sizes()) {
        throw InputError(path + ": tensor '" + name + "' has shape " + c10::str(stored.sizes()) + ", config.json implies " +
                         c10::str(param.sizes()));
      }
      param.copy_(stored.to(param.scalar_type()));
      loaded.insert(name);
    }
  }
  for (const auto& name : wanted) {
    if (!loaded.count(name)) throw InputError(dir + ": tensor '" + name + "' is missing from the checkpoint");
  }
  decoder->to(device);
  return decoder;
}

}  // namespace infini
