#include "report/paired.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

namespace infini {

namespace {

struct Pair {
  double tokens_a, nll_a, tokens_b, nll_b;
};

double pooled_ratio(const std::vector<Pair>& pairs, const std::vector<size_t>& picks) {
  double tokens_a = 0, nll_a = 0, tokens_b = 0, nll_b = 0;
  for (const size_t i : picks) {
    tokens_a += pairs[i].tokens_a, nll_a += pairs[i].nll_a;
    tokens_b += pairs[i].tokens_b, nll_b += pairs[i].nll_b;
  }
  return std::exp(nll_b / tokens_b - nll_a / tokens_a);
}

}  // namespace

std::optional<PairedComparison> compare_paired(const std::vector<DocumentScore>& baseline,
                                               const std::vector<DocumentScore>& candidate, int resamples,
                                               uint64_t seed) {
  std::map<std::string, const DocumentScore*> by_name;
  for (const auto& d : baseline) by_name[d.name] = &d;
  std::vector<Pair> pairs;
  PairedComparison out;
  for (const auto& b : candidate) {
    const auto found = by_name.find(b.name);
    if (found == by_name.end() || b.tokens <= 0 || found->second->tokens <= 0) continue;
    const auto& a = *found->second;
    pairs.push_back({static_cast<double>(a.tokens), a.nll, static_cast<double>(b.tokens), b.nll});
    out.improved += b.nll / static_cast<double>(b.tokens) < a.nll / static_cast<double>(a.tokens);
  }
  if (pairs.empty()) return std::nullopt;
  out.documents = static_cast<int64_t>(pairs.size());
  std::vector<size_t> all(pairs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  out.ratio = pooled_ratio(pairs, all);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, pairs.size() - 1);
  std::vector<double> ratios;
  std::vector<size_t> sample(pairs.size());
  for (int r = 0; r < resamples; ++r) {
    for (auto& i : sample) i = pick(rng);
    ratios.push_back(pooled_ratio(pairs, sample));
  }
  std::sort(ratios.begin(), ratios.end());
  auto quantile = [&](double q) { return ratios[static_cast<size_t>(q * static_cast<double>(ratios.size() - 1))]; };
  out.low = ratios.empty() ? out.ratio : quantile(0.025);
  out.high = ratios.empty() ? out.ratio : quantile(0.975);
  return out;
}

}  // namespace infini
