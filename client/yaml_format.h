// A YAML rendering of the JSON that sr2ctl prints for -o json, so that `-o yaml` carries exactly
// the same data. Hand-written (block style, kubectl layout) because only emitting is needed.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace sr2 {

// Block-style YAML for `value`, ending in a newline. Strings are plain only when no YAML 1.1
// or 1.2 reader can take them for anything else (a number, bool, null, timestamp, or syntax);
// every other string is double-quoted with JSON escapes, which YAML reads the same way. Floats
// always carry a '.' or an exponent with a '.', so YAML 1.1 readers see floats too.
std::string ToYaml(const nlohmann::ordered_json& value);

// One entry of a streamed top-level sequence ("- key: value" ...); concatenated entries form
// one YAML sequence, so `logs --follow -o yaml` stays one valid document.
std::string ToYamlSequenceItem(const nlohmann::ordered_json& value);

}  // namespace sr2
