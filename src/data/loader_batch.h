// A training batch and a batch source's position, shared by every source (batch_source.h).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace infini {

struct LoaderState {
  int64_t epoch = 0;
  int64_t cursor = 0;                 // next position in this rank's share of the epoch's order
                                      // (a generated task: the batches this rank has served)
  std::vector<int64_t> row_document;  // -1: the row takes the next document when it needs one
  std::vector<int64_t> row_offset;    // next input token within the row's document

  nlohmann::json to_json() const;
  // Types and signs checked, naming `where`; the source checks the rest in restore().
  static LoaderState from_json(const nlohmann::json& json, const std::string& where);
  bool operator==(const LoaderState& other) const;
};

struct LoaderBatch {
  torch::Tensor inputs;   // [batch, sequence] int64
  torch::Tensor targets;  // [batch, sequence] int64, -100 where a row has no document (padding)
  torch::Tensor starts;   // [batch, sequence] bool: a document's first input token
  // [batch, sequence / segment] float: how many times each segment's memory write counts
  // (train/bptt.h); undefined: once each. Only the passkey task's dilution sets it.
  torch::Tensor write_weights;
  int64_t tokens = 0;     // predicted (non-padding) tokens
  bool end_of_data = false;  // repeat = false and every document has been served
};

constexpr int64_t kIgnoreTarget = -100;

}  // namespace infini
