#include "train/training_data.h"

#include <filesystem>

#include "core/errors.h"
#include "core/files.h"
#include "data/loader.h"
#include "data/passkey_loader.h"
#include "data/prepare.h"
#include "data/token_shards.h"

namespace infini {

namespace fs = std::filesystem;

namespace {

// The fields every source's options share.
template <class Options>
Options shaped_options(const RunConfig& config, const Communicator& comm) {
  Options options;
  options.batch_size = config.train.batch_size;
  options.sequence_length = config.train.sequence_length;
  options.seed = static_cast<uint64_t>(config.run.seed);
  options.rank = comm.rank();
  options.world_size = comm.world_size();
  return options;
}

TrainingData open_passkey(const RunConfig& config, Communicator& comm, const std::string& origin) {
  if (!config.data.train.empty()) spdlog::warn("{}: data.train is not used with data.task passkey", origin);
  auto options = shaped_options<PasskeyLoaderOptions>(config, comm);
  switch (config.data.passkey_loss) {
    case PasskeyLoss::All: options.targets = PasskeyTargets::All; break;
    case PasskeyLoss::Key: options.targets = PasskeyTargets::KeyLine; break;
    case PasskeyLoss::Answer: options.targets = PasskeyTargets::Answer; break;
  }
  options.segment_length = config.model.attention.segment_length;
  options.pack = !config.model.has_cache_layers();
  options.min_segments = config.data.passkey_min_segments;
  options.max_segments = config.data.passkey_max_segments;
  options.curriculum_samples = config.data.passkey_curriculum_samples;
  options.key_digits = config.data.passkey_key_digits;
  options.keyless_share = config.data.passkey_keyless_share;
  options.dilution = config.data.passkey_dilution;
  auto loader = std::make_unique<PasskeyLoader>(config.data.tokenizer, options);
  TrainingData data;
  data.bytes_per_token = loader->bytes_per_token();
  data.source = std::move(loader);
  return data;
}

}  // namespace

TrainingData open_training_data(const RunConfig& config, Communicator& comm, const std::string& origin) {
  if (config.data.task == TrainTask::Passkey) return open_passkey(config, comm, origin);
  if (config.data.train.empty()) throw InputError(origin + ": data.train: needed to train");
  if (!fs::exists(config.data.train)) throw InputError(origin + ": data.train: " + config.data.train + " does not exist");

  std::string shard_dir = config.data.train;
  if (!is_shard_directory(shard_dir)) {
    shard_dir = config.run.dir + "/data/train";
    if (comm.is_main()) {
      PrepareOptions prepare;
      prepare.tokenizer = config.data.tokenizer;
      prepare.input = config.data.train;
      prepare.out = shard_dir;
      prepare.threads = static_cast<int>(config.run.threads);
      const auto report = prepare_shards(prepare);
      if (!report.up_to_date) spdlog::info("tokenised {} into {} ({} tokens)", config.data.train, shard_dir, report.tokens);
    }
    comm.sum(0.0);  // the other ranks wait for rank 0's shards
  }
  TrainingData data;
  data.shards = std::make_unique<TokenShards>(shard_dir, file_fingerprint(config.data.tokenizer));
  int64_t corpus_bytes = 0, corpus_predicted = 0;
  for (size_t d = 0; d < data.shards->documents(); ++d) {
    corpus_bytes += static_cast<int64_t>(data.shards->entry(d).bytes);
    corpus_predicted += static_cast<int64_t>(data.shards->entry(d).tokens) - 1;
  }
  data.bytes_per_token =
      corpus_predicted > 0 ? static_cast<double>(corpus_bytes) / static_cast<double>(corpus_predicted) : 0.0;

  auto loader = shaped_options<LoaderOptions>(config, comm);
  loader.align = !config.model.has_cache_layers() ? config.model.attention.segment_length : config.train.sequence_length;
  data.source = std::make_unique<DocumentLoader>(*data.shards, loader);
  return data;
}

}  // namespace infini
