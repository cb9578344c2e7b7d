// The four attention kinds a decoder layer can use (SPEC section 1) and their names.
#pragma once

#include <optional>
#include <string>

#include "core/schema.h"

namespace infini {

enum class AttentionKind {
  Infini,  // causal softmax inside the segment + compressive memory of earlier segments, gated
  Local,   // causal softmax inside the segment only
  Xl,      // the segment plus the previous segment's keys/values (Transformer-XL)
  Full,    // causal softmax over the whole document so far
};

inline const Choices<AttentionKind> kAttentionKindNames = {
    {"infini", AttentionKind::Infini}, {"local", AttentionKind::Local}, {"xl", AttentionKind::Xl}, {"full", AttentionKind::Full}};

std::string attention_kind_name(AttentionKind kind);
std::optional<AttentionKind> parse_attention_kind(const std::string& name);

}  // namespace infini
