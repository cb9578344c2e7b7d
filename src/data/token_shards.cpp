#include "data/token_shards.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "core/files.h"

namespace infini {

TokenShards::TokenShards(const std::string& dir, const std::string& tokenizer_fingerprint) : dir_(dir) {
  if (!std::filesystem::is_directory(dir)) throw InputError(dir + ": no such shard directory");
  manifest_ = read_json_file(dir + "/manifest.json");
  const std::string where = dir + "/manifest.json";
  if (manifest_.value("format", 0) != kShardFormat) {
    throw InputError(where + ": shard format " + manifest_.value("format", nlohmann::json(0)).dump() + ", expected " +
                     std::to_string(kShardFormat) + " (re-run infini data prepare)");
  }
  if (!tokenizer_fingerprint.empty() && manifest_.value("tokenizer_fingerprint", "") != tokenizer_fingerprint) {
    throw InputError(dir + ": shards were made with another tokenizer (" + manifest_.value("tokenizer", "?") +
                     ", fingerprint " + manifest_.value("tokenizer_fingerprint", "?") + ", expected " +
                     tokenizer_fingerprint + ")");
  }
  wide_ = manifest_.value("dtype", "") == "uint32";
  for (const auto& shard : manifest_.at("shards")) shards_.emplace_back(dir + "/" + shard.at("file").get<std::string>());

  MappedFile index(dir + "/index.bin");
  if (index.size() % sizeof(DocumentEntry) != 0) throw InputError(dir + "/index.bin: truncated");
  index_.resize(index.size() / sizeof(DocumentEntry));
  if (!index_.empty()) std::memcpy(index_.data(), index.data(), index.size());
  std::ifstream names(dir + "/names.txt");
  for (std::string line; std::getline(names, line);) names_.push_back(line);
  if (names_.size() != index_.size() || static_cast<int64_t>(index_.size()) != manifest_.value("documents", -1)) {
    throw InputError(dir + ": index.bin, names.txt and manifest.json disagree on the number of documents");
  }
  const size_t width = wide_ ? 4 : 2;
  for (size_t i = 0; i < index_.size(); ++i) {
    const auto& e = index_[i];
    if (e.shard >= shards_.size() || (e.offset + e.tokens) * width > shards_[e.shard].size()) {
      throw InputError(dir + ": document " + names_[i] + " lies outside its shard (truncated shard file?)");
    }
  }
}

void TokenShards::read(size_t document, int64_t offset, int64_t count, int64_t* out) const {
  const auto& e = index_.at(document);
  if (offset < 0 || count < 0 || static_cast<uint64_t>(offset + count) > e.tokens) {
    throw std::out_of_range("read past the end of document " + names_.at(document));
  }
  const char* base = shards_[e.shard].data();
  if (wide_) {
    const auto* tokens = reinterpret_cast<const uint32_t*>(base) + e.offset + offset;
    for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
  } else {
    const auto* tokens = reinterpret_cast<const uint16_t*>(base) + e.offset + offset;
    for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
  }
}

std::vector<int64_t> TokenShards::document(size_t document) const {
  std::vector<int64_t> tokens(index_.at(document).tokens);
  read(document, 0, static_cast<int64_t>(tokens.size()), tokens.data());
  return tokens;
}

}  // namespace infini
