#include "train/training_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/errors.h"
#include "core/files.h"
#include "core/json_reader.h"
#include "model/checkpoint.h"

namespace infini {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kMemoryFile = "memory_state.safetensors";
constexpr const char* kPrefix = "step-";

// -1 unless `name` is a checkpoint directory name.
int64_t step_of(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0 || name.size() != 13) return -1;
  const auto digits = name.substr(5);
  if (!std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

std::vector<std::pair<int64_t, std::string>> checkpoints_in(const std::string& checkpoints) {
  std::vector<std::pair<int64_t, std::string>> found;
  if (!fs::is_directory(checkpoints)) return found;
  for (const auto& entry : fs::directory_iterator(checkpoints)) {
    const int64_t step = step_of(entry.path().filename().string());
    // A committed directory always holds its trainer state; staging directories have other names.
    if (step >= 0 && fs::exists(entry.path() / kStateFile)) found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

nlohmann::json TrainerState::to_json() const {
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& l : rank_loaders) ranks.push_back(l.to_json());
  return {{"step", step},
          {"world_size", world_size},
          {"rank_loaders", ranks},
          {"optimizer_steps", optimizer_steps},
          {"tokens_seen", tokens_seen},
          {"loader", loader.to_json()},
          {"rng", rng},
          {"config", config},
          {"config_hash", config_hash},
          {"best_validation_loss", std::isfinite(best_validation_loss) ? nlohmann::json(best_validation_loss)
                                                                       : nlohmann::json(nullptr)},
          {"best_step", best_step},
          {"skipped_steps", skipped_steps},
          {"bad_steps_in_row", bad_steps_in_row}};
}

TrainerState TrainerState::from_json(const nlohmann::json& json, const std::string& origin) {
  const JsonReader r(json, origin);
  TrainerState s;
  s.step = r.integer("step", 0);
  s.optimizer_steps = r.integer("optimizer_steps", 0, s.step);
  s.tokens_seen = r.integer("tokens_seen", 0);
  s.loader = LoaderState::from_json(r.at("loader"), origin + ": loader");
  s.world_size = r.integer_or("world_size", 1, 1, 1 << 20);
  if (r.has("rank_loaders")) {
    const auto& ranks = r.at("rank_loaders");
    if (!ranks.is_array()) r.fail("rank_loaders", "a list of loader states");
    for (size_t i = 0; i < ranks.size(); ++i) {
      s.rank_loaders.push_back(LoaderState::from_json(ranks[i], origin + ": rank_loaders[" + std::to_string(i) + "]"));
    }
  }
  if (s.world_size > 1 && static_cast<int64_t>(s.rank_loaders.size()) != s.world_size) {
    r.fail("rank_loaders", "one loader state per rank (" + std::to_string(s.world_size) + ")");
  }
  s.rng = r.text("rng");
  if (s.rng.empty() || s.rng.size() % 2 != 0 || s.rng.find_first_not_of("0123456789abcdef") != std::string::npos) {
    r.fail("rng", "the generator state as lowercase hex bytes");
  }
  s.config = r.text("config");
  s.config_hash = r.text("config_hash");
  s.best_validation_loss =
      r.has("best_validation_loss") ? r.number("best_validation_loss") : std::numeric_limits<double>::infinity();
  s.best_step = r.integer("best_step", -1, s.step);
  s.skipped_steps = r.integer("skipped_steps", 0, s.step);
  s.bad_steps_in_row = r.integer("bad_steps_in_row", 0, s.step);
  return s;
}

std::string checkpoint_dir_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%08ld", kPrefix, step);
  return name;
}

void save_training_checkpoint(const std::string& dir, Decoder& model, const std::string& tokenizer,
                              const AdamW& optimizer, const TrainerState& state,
                              const std::vector<ModelState>& carried) {
  StagedDirectory writer(dir);
  stage_model(writer, model, tokenizer);
  write_safetensors(writer.path(kOptimizerFile), optimizer.state());
  NamedTensors memory;
  for (size_t m = 0; m < carried.size(); ++m) {
    for (size_t l = 0; l < carried[m].layers.size(); ++l) {
      const auto& layer = carried[m].layers[l].memory;
      if (!layer.defined()) continue;
      const auto prefix = std::to_string(m) + "." + std::to_string(l) + ".";
      memory.emplace_back(prefix + "matrix", layer.matrix);
      memory.emplace_back(prefix + "normalizer", layer.normalizer);
    }
  }
  if (!memory.empty()) write_safetensors(writer.path(kMemoryFile), memory);
  writer.write_text(kStateFile, state.to_json().dump(2) + "\n");
  writer.commit();
}

TrainerState read_trainer_state(const std::string& dir) {
  const auto path = dir + "/" + kStateFile;
  if (!fs::exists(path)) throw InputError(dir + ": not a training checkpoint (no " + kStateFile + ")");
  return TrainerState::from_json(read_json_file(path), path);
}

NamedTensors read_optimizer_state(const std::string& dir) { return read_safetensors(dir + "/" + kOptimizerFile); }

std::vector<ModelState> read_carried_state(const std::string& dir, torch::Device device) {
  std::vector<ModelState> carried;
  const auto path = dir + "/" + kMemoryFile;
  if (!fs::exists(path)) return carried;
  SafetensorsFile file(path);
  for (const auto& name : file.names()) {
    // "m.l.matrix" / "m.l.normalizer": micro-batch m, layer l
    const auto first = name.find('.'), second = name.find('.', first + 1);
    auto index = [&](const std::string& digits) {
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw InputError(path + ": tensor '" + name + "' is not named micro_batch.layer.matrix|normalizer");
      }
      return static_cast<size_t>(std::stoul(digits));
    };
    if (first == std::string::npos || second == std::string::npos ||
        (name.substr(second + 1) != "matrix" && name.substr(second + 1) != "normalizer")) {
      index("");
    }
    const auto m = index(name.substr(0, first));
    const auto l = index(name.substr(first + 1, second - first - 1));
    if (carried.size() <= m) carried.resize(m + 1);
    auto& layers = carried[m].layers;
    if (layers.size() <= l) layers.resize(l + 1);
    auto tensor = file.tensor(name).to(device);
    if (!at::isFloatingType(tensor.scalar_type())) {
      throw InputError(path + ": tensor '" + name + "' is stored as " + c10::toString(tensor.scalar_type()) +
                       ", expected floating point");
    }
    if (name.substr(second + 1) == "matrix") {
      layers[l].memory.matrix = tensor;
    } else {
      layers[l].memory.normalizer = tensor;
    }
  }
  return carried;
}

std::string latest_checkpoint(const std::string& checkpoints) {
  const auto found = checkpoints_in(checkpoints);
  return found.empty() ? "" : found.back().second;
}

std::vector<std::string> list_checkpoints(const std::string& checkpoints) {
  std::vector<std::string> dirs;
  for (const auto& [step, dir] : checkpoints_in(checkpoints)) dirs.push_back(dir);
  return dirs;
}

void prune_checkpoints(const std::string& checkpoints, int64_t keep_last, int64_t current_step,
                       const std::vector<int64_t>& keep) {
  auto found = checkpoints_in(checkpoints);
  found.erase(std::remove_if(found.begin(), found.end(), [&](const auto& c) { return c.first > current_step; }),
              found.end());
  const int64_t excess = static_cast<int64_t>(found.size()) - std::max<int64_t>(keep_last, 1);
  for (int64_t i = 0; i < excess; ++i) {
    const auto& [step, dir] = found[static_cast<size_t>(i)];
    if (step != current_step && std::find(keep.begin(), keep.end(), step) == keep.end()) fs::remove_all(dir);
  }
}

int64_t linked_step(const std::string& path) {
  std::error_code error;
  if (!fs::is_symlink(path, error)) return -1;
  const auto target = fs::read_symlink(path, error);
  return error ? -1 : step_of(target.filename().string());
}

void claim_run_dir(const std::string& run_dir, bool replace, bool main_rank) {
  const auto existing = list_checkpoints(run_dir + "/checkpoints");
  if (existing.empty()) return;
  if (!replace) {
    throw InputError(run_dir + ": already holds a run (newest checkpoint " + existing.back() +
                     "); continue it with --resume auto (or run.resume: auto), or start fresh in a new or emptied "
                     "run.dir (--force deletes that run first)");
  }
  if (!main_rank) return;
  spdlog::warn("--force: deleting the run in {}: its checkpoints, links and logs", run_dir);
  for (const auto& name : kRunLinks) fs::remove(run_dir + "/" + name);
  for (const auto* name : {"checkpoints", "metrics.jsonl", "train.log", "tb"}) fs::remove_all(run_dir + "/" + name);
}

void link_and_prune(const std::string& run_dir, const std::vector<std::string>& links, int64_t step, int64_t keep_last,
                    int64_t best_step) {
  for (const auto& name : links) {
    const auto link = run_dir + "/" + name, staging = link + ".new";
    fs::remove(staging);
    fs::create_directory_symlink("checkpoints/" + checkpoint_dir_name(step), staging);
    fs::rename(staging, link);
  }
  std::vector<int64_t> keep = {best_step};
  for (const auto& name : kRunLinks) keep.push_back(linked_step(run_dir + "/" + name));
  prune_checkpoints(run_dir + "/checkpoints", keep_last, step, keep);
}

std::string rng_state() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  auto state = generator.get_state();
  const auto* bytes = state.data_ptr<uint8_t>();
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (int64_t i = 0; i < state.numel(); ++i) {
    hex.push_back(digits[bytes[i] >> 4]);
    hex.push_back(digits[bytes[i] & 15]);
  }
  return hex;
}

void restore_rng_state(const std::string& hex, const std::string& origin) {
  if (hex.size() % 2 != 0) throw InputError(origin + ": rng: expected hex bytes");
  auto state = torch::empty({static_cast<int64_t>(hex.size() / 2)}, torch::kUInt8);
  auto* bytes = state.data_ptr<uint8_t>();
  for (size_t i = 0; i < hex.size() / 2; ++i) bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  try {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  } catch (const c10::Error&) {
    throw InputError(origin + ": rng: not a generator state of this LibTorch");
  }
}

}  // namespace infini
