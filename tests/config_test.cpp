// YAML run configs: every kind of bad input is an error naming the file, key path and
// expectation; overrides go through the same validation; the resolved config round-trips.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/fields.h"
#include "config/key_docs.h"
#include "config/run_config.h"
#include "train/initial_model.h"
#include "model/checkpoint.h"
#include "test_support.h"

using namespace infini;

namespace {

const char* kValid =
    "model:\n"
    "  hidden_size: 64\n"
    "  num_hidden_layers: 2\n"
    "  num_attention_heads: 4\n"
    "  num_key_value_heads: 2\n"
    "  intermediate_size: 96\n"
    "  infini_attention:\n"
    "    kind: infini\n"
    "    segment_length: 32\n"
    "    memory_update: delta\n"
    "run:\n"
    "  seed: 3\n";

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", yaml);
  try {
    load_run_config(dir / "c.yaml", overrides);
  } catch (const InputError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(dir / "c.yaml"), std::string::npos) << "names the file: " << message;
    return message;
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return "";
}

}  // namespace

TEST(Config, ValidConfigLoadsTyped) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto c = load_run_config(dir / "c.yaml");
  EXPECT_EQ(c.model.hidden_size, 64);
  EXPECT_EQ(c.model.num_key_value_heads, 2);
  EXPECT_EQ(c.model.attention.memory_update, MemoryUpdate::Delta);
  EXPECT_EQ(c.model.attention.segment_length, 32);
  EXPECT_EQ(c.run.seed, 3);
  EXPECT_EQ(c.run.dtype, torch::kFloat32);
}

TEST(Config, UnknownKeySuggestsTheNearest) {
  auto message = error_of(std::string(kValid) + "eval:\n  bucket_widht: 5\n");
  EXPECT_NE(message.find("eval.bucket_widht: unknown key (did you mean eval.bucket_width?)"), std::string::npos)
      << message;
  message = error_of(std::string(kValid) + "trian:\n  steps: 5\n");
  EXPECT_NE(message.find("trian: unknown key"), std::string::npos) << message;
}

TEST(Config, WrongTypeRangeEnumAndMissingKeys) {
  std::string base = kValid;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_NE(error_of(replace("hidden_size: 64", "hidden_size: big")).find("model.hidden_size: expected an integer, got 'big'"),
            std::string::npos);
  EXPECT_NE(error_of(replace("segment_length: 32", "segment_length: 0"))
                .find("model.infini_attention.segment_length: expected an integer >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of(replace("kind: infini", "kind: sparse"))
                .find("model.infini_attention.kind: expected one of infini, local, xl, full, got 'sparse'"),
            std::string::npos);
  EXPECT_NE(error_of(replace("  num_hidden_layers: 2\n", "")).find("model.num_hidden_layers: missing required key"),
            std::string::npos);
  EXPECT_NE(error_of(replace("num_key_value_heads: 2", "num_key_value_heads: 3")).find("num_key_value_heads"),
            std::string::npos);
  EXPECT_NE(error_of("run:\n  seed: 1\n").find("model: missing required key"), std::string::npos);
  EXPECT_NE(error_of("model: [1, 2]\n").find("model: expected a mapping"), std::string::npos);
}

TEST(Config, OverridesAreValidatedLikeTheFile) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto c = load_run_config(dir / "c.yaml", {"model.infini_attention.kind=xl", "run.seed=9", "eval.memory=false"});
  EXPECT_EQ(c.model.attention.kind, AttentionKind::Xl);
  EXPECT_EQ(c.run.seed, 9);
  EXPECT_FALSE(c.eval.memory);
  EXPECT_NE(error_of(kValid, {"model.hiden_size=3"}).find("did you mean model.hidden_size?"), std::string::npos);
  EXPECT_NE(error_of(kValid, {"run.seed=-1"}).find("run.seed: expected an integer >= 0"), std::string::npos);
  EXPECT_THROW(load_run_config(dir / "c.yaml", {"run.seed"}), InputError);
  EXPECT_THROW(load_run_config(dir / "c.yaml", {"run.seed.x=1"}), InputError);
}

TEST(Config, ResolvedConfigRoundTrips) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto c = load_run_config(dir / "c.yaml", {"model.infini_attention.layer_kinds=[infini, local]"});
  test::write_text(dir / "resolved.yaml", resolved_yaml(c));
  auto again = load_run_config(dir / "resolved.yaml");
  EXPECT_EQ(resolved_yaml(again), resolved_yaml(c));
  ASSERT_EQ(again.model.attention.layer_kinds.size(), 2u);
  EXPECT_EQ(again.model.attention.layer_kinds[1], AttentionKind::Local);
}

TEST(Config, NearestKeyOnlySuggestsTypos) {
  EXPECT_EQ(nearest_key("hiden_size", {"hidden_size", "seed"}), "hidden_size");
  EXPECT_EQ(nearest_key("completely_else", {"hidden_size", "seed"}), "");
}

TEST(Config, ShippedConfigsLoad) {
  // Configs that start from another run's checkpoint (init.from) load against a stand-in.
  test::TempDir dir;
  Decoder stand_in(test::tiny_config(AttentionKind::Infini));
  save_model(dir / "checkpoint", stand_in, test::shared_tokenizer());
  int loaded = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(INFINI_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const bool continues = test::read_text(entry.path().string()).find("\ninit:\n  from:") != std::string::npos;
    std::vector<std::string> overrides;
    if (continues) overrides.push_back("init.from=" + (dir / "checkpoint"));
    EXPECT_NO_THROW({
      auto config = load_run_config(entry.path().string(), overrides);
      EXPECT_EQ(config.model_complete, !continues);
      complete_from_init(config, entry.path().string());  // reads the stand-in's config.json
      EXPECT_TRUE(config.model_complete);
    }) << entry.path();
    ++loaded;
  }
  EXPECT_GE(loaded, 8);
}

TEST(Config, TrainSectionCrossChecks) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto c = load_run_config(dir / "c.yaml");
  EXPECT_EQ(c.train.sequence_length, 4 * c.model.attention.segment_length);  // the default: 4 segments
  try {
    load_run_config(dir / "c.yaml", {"train.sequence_length=" + std::to_string(c.model.attention.segment_length * 3 + 1)});
    FAIL() << "a sequence that is not whole segments was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train.sequence_length"), std::string::npos) << e.what();
  }
  try {
    load_run_config(dir / "c.yaml", {"train.carry_memory=true", "model.infini_attention.kind=xl"});
    FAIL() << "carrying an xl cache across steps was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train.carry_memory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_run_config(dir / "c.yaml", {"train.schedule.kind=exponential"}), InputError);
  EXPECT_THROW(load_run_config(dir / "c.yaml", {"train.optimizer.gate_lr=-1"}), InputError);
}

TEST(Config, FlattenedConfigsShowWhatChanged) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto a = flatten_config(load_run_config(dir / "c.yaml"));
  auto b = flatten_config(load_run_config(dir / "c.yaml", {"train.optimizer.lr=0.5"}));
  std::vector<std::string> changed;
  for (const auto& [key, value] : a) {
    if (b.at(key) != value) changed.push_back(key);
  }
  EXPECT_EQ(changed, std::vector<std::string>{"train.optimizer.lr"});
  EXPECT_EQ(a.at("train.steps"), "100");
}

TEST(Config, OneModelSchemaServesYamlAndConfigJson) {
  // The required keys alone read the same from a run config and from config.json, with Hugging
  // Face's defaults (rms_norm_eps 1e-6, key/value heads = heads, head_dim = hidden / heads).
  test::TempDir dir;
  test::write_text(dir / "m.yaml", "model:\n  hidden_size: 64\n  num_hidden_layers: 2\n  num_attention_heads: 4\n");
  const auto from_yaml = load_run_config(dir / "m.yaml").model;
  auto from_json = model_config_from_json({{"vocab_size", 100},
                                           {"hidden_size", 64},
                                           {"num_hidden_layers", 2},
                                           {"num_attention_heads", 4},
                                           {"infini_attention", {{"kind", "infini"}}}},
                                          "config.json");
  EXPECT_EQ(from_yaml.rms_norm_eps, 1e-6);
  EXPECT_EQ(from_json.rms_norm_eps, 1e-6);
  EXPECT_EQ(from_json.num_key_value_heads, 4);
  EXPECT_EQ(from_json.head_dim, 16);
  from_json.vocab_size = 0;  // the run config's "from the tokenizer"
  EXPECT_EQ(model_config_to_json(from_yaml), model_config_to_json(from_json));

  // Every key survives config.json and the run config's YAML.
  auto changed = from_yaml;
  changed.vocab_size = 50;
  changed.rms_norm_eps = 1e-5;
  changed.torch_dtype = torch::kBFloat16;
  changed.attention.memory_update = MemoryUpdate::Delta;
  changed.attention.layer_kinds = {AttentionKind::Infini, AttentionKind::Local};
  const auto json = model_config_to_json(changed);
  EXPECT_EQ(json["torch_dtype"], "bfloat16");
  EXPECT_EQ(json["infini_attention"]["layer_kinds"], nlohmann::json({"infini", "local"}));
  EXPECT_EQ(model_config_to_json(model_config_from_json(json, "config.json")), json);
  EXPECT_EQ(model_config_to_json(override_model_config(changed, {}, "here")), json);
  auto without_vocabulary = json;
  without_vocabulary.erase("vocab_size");
  try {
    model_config_from_json(without_vocabulary, "config.json");
    FAIL() << "a config.json without vocab_size was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing key 'vocab_size'"), std::string::npos) << e.what();
  }
}

TEST(Config, InitSectionAndLegacyKeys) {
  // init.from is not read while loading; older configs' model.init_from and
  // model.infini_attention.gate_init are read as init.from and init.gate_init.
  test::TempDir dir;
  test::write_text(dir / "old.yaml", "model:\n  init_from: nowhere/final\n  infini_attention:\n    kind: infini\n"
                                     "    gate_init: -3\n");
  const auto old = load_run_config(dir / "old.yaml");
  EXPECT_EQ(old.init.from, "nowhere/final");
  EXPECT_EQ(old.init.gate_init, -3.0);
  EXPECT_FALSE(old.model_complete);
  EXPECT_EQ(old.model_given, std::vector<std::string>{"model.infini_attention.kind=infini"});
  try {
    auto config = old;
    complete_from_init(config, "old.yaml");
    FAIL() << "a missing init.from checkpoint was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("init.from"), std::string::npos) << e.what();
  }
  // Typed at load: the device's name, resume's three forms.
  test::write_text(dir / "run.yaml", kValid);
  const auto run = load_run_config(dir / "run.yaml", {"run.device=cuda:1", "run.resume=auto"});
  EXPECT_TRUE(run.run.device.is_cuda());
  EXPECT_EQ(run.run.device.index(), 1);
  EXPECT_EQ(run.run.resume.mode, ResumeFrom::Mode::Auto);
  EXPECT_EQ(load_run_config(dir / "run.yaml", {"run.resume=ckpt/step-1"}).run.resume.checkpoint, "ckpt/step-1");
  EXPECT_THROW(load_run_config(dir / "run.yaml", {"run.device=gpu"}), InputError);
}

TEST(Config, ResolvedNumbersAreWrittenAsGiven) {
  // The shortest text that reads back as the same double, and --print-config shows the
  // resolved config without training.
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  const auto config = load_run_config(dir / "c.yaml", {"train.optimizer.lr=0.003", "train.optimizer.eps=1e-8"});
  const auto yaml = resolved_yaml(config);
  EXPECT_NE(yaml.find("lr: 0.003\n"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("0.0030000000000000001"), std::string::npos) << yaml;
  EXPECT_EQ(parse_resolved_yaml(yaml, "again").train.optimizer.eps, 1e-8);
  const auto printed = test::run_infini("train --config " + (dir / "c.yaml") + " --set train.optimizer.lr=0.003 --set run.dir=" +
                                        (dir / "run") + " --print-config");
  ASSERT_EQ(printed.status, 0) << printed.output;
  EXPECT_NE(printed.output.find("  lr: 0.003  # peak learning rate (default: 0.0003)\n"), std::string::npos)
      << printed.output;
  EXPECT_NE(printed.output.find("rms_norm_eps: 1e-06  #"), std::string::npos) << printed.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run")) << "printing the config started a run";
}

TEST(Config, PrintedConfigDocumentsEveryKey) {
  test::TempDir dir;
  test::write_text(dir / "c.yaml", kValid);
  auto config = load_run_config(dir / "c.yaml", {"init.gate_init=-2"});  // the optional key, set
  std::map<std::string, std::string> docs(run_config_key_docs().begin(), run_config_key_docs().end());
  const auto leaves = flatten_config(config);
  for (const auto& [key, value] : leaves) EXPECT_TRUE(docs.count(key)) << key << " has no meaning written";
  for (const auto& [key, meaning] : docs) {
    bool known = leaves.count(key) > 0;
    for (const auto& [leaf, value] : leaves) known = known || leaf.rfind(key + ".", 0) == 0;
    EXPECT_TRUE(known) << key << " is documented but is no key of the config";
  }
  // The notes are comments: the text reads back as the same config, every value line has its
  // default, and an unset optional key is listed.
  const auto text = documented_yaml(config);
  EXPECT_EQ(flatten_config(parse_resolved_yaml(text, "printed")), leaves);
  EXPECT_NE(text.find("  gate_init: -2  # every gate's"), std::string::npos) << text;
  EXPECT_NE(text.find("  segment_length: 32  # tokens per segment: local attention's window, memory's step "
                      "(default: 2048)\n"),
            std::string::npos)
      << text;
  config.init.gate_init.reset();
  EXPECT_NE(documented_yaml(config).find("  # gate_init: unset  # every gate's"), std::string::npos);
}
