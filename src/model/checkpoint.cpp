#include "model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/errors.h"
#include "core/files.h"

namespace fs = std::filesystem;

namespace infini {

void stage_model(StagedDirectory& writer, Decoder& decoder, const std::string& tokenizer) {
  const auto& config = decoder->config();
  writer.write_text("config.json", model_config_to_json(config).dump(2) + "\n");
  const auto dtype = config.torch_dtype;
  NamedTensors tensors;
  for (const auto& item : decoder->named_parameters()) tensors.emplace_back(item.key(), item.value().to(dtype));
  write_safetensors(writer.path("model.safetensors"), tensors);
  if (!tokenizer.empty()) writer.copy_file("tokenizer.model", tokenizer);
}

void save_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer) {
  StagedDirectory writer(dir);
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
      if (!at::isFloatingType(stored.scalar_type())) {
        throw InputError(path + ": tensor '" + name + "' is stored as " + c10::toString(stored.scalar_type()) +
                         ", expected floating point (F32, BF16, F16 or F64)");
      }
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
