// The sections of `infini report` (report/report.h), each appending its Markdown to `md`, its
// numbers to the JSON summary and its charts to `files`.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "report/report.h"

namespace infini::report {

using Files = std::map<std::string, std::string>;

// Letters and digits kept, anything else '-': chart file names.
std::string slug(const std::string& text);

// perplexity_sections.cpp
// Table 2 (perplexity, memory size and compression per model and corpus) and the footprint table.
void perplexity_tables(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary);
// Perplexity against position per corpus: a chart of every bucket and a table of doubling ranges,
// each with its tokens and documents.
void position_section(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary, Files& files);
// Paired per-document comparisons on the same corpus: memory against reset, and model against model.
void comparison_section(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary);

// passkey_gates_sections.cpp
// Passkey retrieval in Table 3's layout: token accuracy and exact match, keys per cell.
void passkey_section(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary, Files& files);
// One gate map per model (Figure 3), with a colour bar.
void gates_section(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary, Files& files);

// report.cpp
// What produced each result: command, program, date, checkpoint step, data fingerprint.
void provenance_section(const ReportInputs& in, std::ostringstream& md, nlohmann::json& summary);

}  // namespace infini::report
