#include "data/loader.h"

#include <random>

#include "core/errors.h"
#include "core/json_reader.h"

namespace infini {

nlohmann::json LoaderState::to_json() const {
  return {{"epoch", epoch}, {"cursor", cursor}, {"row_document", row_document}, {"row_offset", row_offset}};
}

LoaderState LoaderState::from_json(const nlohmann::json& json, const std::string& where) {
  const JsonReader r(json, where);
  LoaderState state;
  state.epoch = r.integer("epoch", 0);
  state.cursor = r.integer("cursor", 0);
  state.row_document = r.integers("row_document", -1);
  state.row_offset = r.integers("row_offset", 0);
  if (state.row_offset.size() != state.row_document.size()) {
    throw InputError(where + ": row_document and row_offset differ in length");
  }
  return state;
}

bool LoaderState::operator==(const LoaderState& other) const {
  return epoch == other.epoch && cursor == other.cursor && row_document == other.row_document &&
         row_offset == other.row_offset;
}

DocumentLoader::DocumentLoader(const TokenShards& shards, LoaderOptions options)
    : shards_(shards), options_(options) {
  if (options.batch_size < 1 || options.sequence_length < 1) throw InputError("loader: batch and sequence must be positive");
  if (options.align < 1 || options.sequence_length % options.align != 0) {
    throw InputError("loader: sequence length " + std::to_string(options.sequence_length) +
                     " is not a multiple of the alignment " + std::to_string(options.align));
  }
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw InputError("loader: rank " + std::to_string(options.rank) + " is outside world size " +
                     std::to_string(options.world_size));
  }
  if (static_cast<int64_t>(shards.documents()) < options.world_size) {
    throw InputError(shards.dir() + ": " + std::to_string(shards.documents()) + " documents cannot be shared by " +
                     std::to_string(options.world_size) + " ranks");
  }
  state_.row_document.assign(options.batch_size, -1);
  state_.row_offset.assign(options.batch_size, 0);
  order_ = epoch_documents(0);
}

std::vector<int64_t> DocumentLoader::epoch_documents(int64_t epoch) const {
  std::vector<int64_t> order(shards_.documents());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (options_.shuffle) {
    // Fisher-Yates with our own draws: std::shuffle's sequence is implementation-defined.
    std::mt19937_64 rng(options_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  }
  std::vector<int64_t> mine;
  for (size_t i = static_cast<size_t>(options_.rank); i < order.size(); i += static_cast<size_t>(options_.world_size)) {
    mine.push_back(order[i]);
  }
  return mine;
}

void DocumentLoader::restore(const LoaderState& state) {
  if (static_cast<int64_t>(state.row_document.size()) != options_.batch_size ||
      state.row_offset.size() != state.row_document.size()) {
    throw InputError("loader state has " + std::to_string(state.row_document.size()) + " rows, this loader " +
                     std::to_string(options_.batch_size));
  }
  const auto documents = static_cast<int64_t>(shards_.documents());
  for (size_t r = 0; r < state.row_document.size(); ++r) {
    const int64_t document = state.row_document[r];
    if (document >= documents) {
      throw InputError("loader state: row " + std::to_string(r) + " is in document " + std::to_string(document) +
                       " but the data has " + std::to_string(documents));
    }
    if (document >= 0 && state.row_offset[r] >= static_cast<int64_t>(shards_.entry(document).tokens)) {
      throw InputError("loader state: row " + std::to_string(r) + " is at token " + std::to_string(state.row_offset[r]) +
                       " of a document of " + std::to_string(shards_.entry(document).tokens));
    }
  }
  state_ = state;
  order_ = epoch_documents(state_.epoch);
  if (state_.cursor > static_cast<int64_t>(order_.size())) {
    throw InputError("loader state: cursor " + std::to_string(state_.cursor) + " is past this rank's " +
                     std::to_string(order_.size()) + " documents");
  }
}

int64_t DocumentLoader::take_document() {
  if (state_.cursor >= static_cast<int64_t>(order_.size())) {
    if (!options_.repeat) return -1;
    state_.epoch += 1;
    state_.cursor = 0;
    order_ = epoch_documents(state_.epoch);
  }
  return order_[static_cast<size_t>(state_.cursor++)];
}

LoaderBatch DocumentLoader::next() {
  const int64_t rows = options_.batch_size, length = options_.sequence_length;
  auto inputs = torch::zeros({rows, length}, torch::kInt64);
  auto targets = torch::full({rows, length}, kIgnoreTarget, torch::kInt64);
  auto starts = torch::zeros({rows, length}, torch::kBool);
  auto* in = inputs.data_ptr<int64_t>();
  auto* out = targets.data_ptr<int64_t>();
  auto* start = starts.data_ptr<bool>();
  LoaderBatch batch;
  bool any_document = false;
  std::vector<int64_t> window;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t position = 0;
    while (position < length) {
      auto& document = state_.row_document[r];
      auto& offset = state_.row_offset[r];
      if (document < 0) {
        position = (position + options_.align - 1) / options_.align * options_.align;
        if (position >= length) break;
        document = take_document();
        offset = 0;
        if (document < 0) break;  // one pass done: the rest of the row is padding
      }
      // A document of n tokens gives n - 1 (input, target) pairs.
      const int64_t pairs = static_cast<int64_t>(shards_.entry(document).tokens) - 1;
      if (pairs <= 0) {
        document = -1;
        continue;
      }
      const int64_t take = std::min(length - position, pairs - offset);
      window.resize(take + 1);
      shards_.read(document, offset, take + 1, window.data());
      const int64_t at = r * length + position;
      for (int64_t i = 0; i < take; ++i) {
        in[at + i] = window[i];
        out[at + i] = window[i + 1];
      }
      if (offset == 0) start[at] = true;
      any_document = true;
      batch.tokens += take;
      position += take;
      offset += take;
      if (offset == pairs) document = -1;
    }
  }
  batch.inputs = inputs;
  batch.targets = targets;
  batch.starts = starts;
  batch.end_of_data = !any_document;
  return batch;
}

}  // namespace infini
