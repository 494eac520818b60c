#include "client/yaml_format.h"

#include <cctype>
#include <set>

#include "absl/strings/str_cat.h"

namespace sr2 {
namespace {

using json = nlohmann::ordered_json;

// Words that YAML 1.1 resolves to booleans or null (YAML 1.2's core schema uses a subset).
bool IsReservedWord(const std::string& s) {
  static const auto* words = new std::set<std::string>{
      "y",     "Y",     "yes",  "Yes",  "YES", "n",  "N",  "no",   "No",   "NO",
      "true",  "True",  "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off",
      "Off",   "OFF",   "null", "Null", "NULL"};
  return words->count(s) > 0;
}

// Plain (unquoted) only for strings that start with a letter or '/' and use nothing but
// letters, digits and "_./-": that excludes numbers, timestamps, indicators (": ", " #", "-
// ", "[", "&", "*", ...) and surrounding spaces.
bool CanBePlain(const std::string& s) {
  if (s.empty() || IsReservedWord(s)) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '/') return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.' && c != '/' && c != '-') return false;
  }
  return true;
}

// JSON's string escapes (\" \\ \n \uXXXX) are all valid in a YAML double-quoted scalar.
std::string Scalar(const json& v) {
  switch (v.type()) {
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      return CanBePlain(s) ? s : json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    case json::value_t::number_float: {
      // nlohmann writes non-finite floats as null, like -o json does.
      std::string text = v.dump();
      const size_t e = text.find_first_of("eE");
      if (e != std::string::npos && text.find('.') == std::string::npos) {
        text.insert(e, ".0");  // "1e-05" -> "1.0e-05": a float for YAML 1.1 readers too.
      }
      return text;
    }
    default:
      return v.dump();  // null, bool, integers.
  }
}

bool IsEmptyCollection(const json& v) {
  return (v.is_object() || v.is_array()) && v.empty();
}

std::string Indent(int n) { return std::string(static_cast<size_t>(n), ' '); }

void Emit(const json& v, int indent, std::string& out);

// The value after "key:" or "- ": scalars and empty collections stay on the line.
void EmitAfterKey(const json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += "\n";
    Emit(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    // kubectl's layout: a sequence under a key is not indented further.
    out += "\n";
    Emit(v, indent, out);
  } else {
    absl::StrAppend(&out, " ", v.is_object() ? "{}" : v.is_array() ? "[]" : Scalar(v), "\n");
  }
}

// Writes `v` (a non-empty collection) as block lines at `indent`.
void Emit(const json& v, int indent, std::string& out) {
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      absl::StrAppend(&out, Indent(indent), Scalar(json(key)), ":");
      EmitAfterKey(value, indent, out);
    }
    return;
  }
  for (const json& item : v) {
    absl::StrAppend(&out, Indent(indent), "-");
    if ((item.is_object() || item.is_array()) && !item.empty()) {
      // The item's first line shares the "- " line; the rest align under it.
      std::string nested;
      Emit(item, indent + 2, nested);
      absl::StrAppend(&out, " ", nested.substr(static_cast<size_t>(indent + 2)));
    } else {
      EmitAfterKey(item, indent, out);
    }
  }
}

}  // namespace

std::string ToYaml(const json& value) {
  if (!IsEmptyCollection(value) && (value.is_object() || value.is_array())) {
    std::string out;
    Emit(value, 0, out);
    return out;
  }
  if (value.is_object()) return "{}\n";
  if (value.is_array()) return "[]\n";
  return Scalar(value) + "\n";
}

std::string ToYamlSequenceItem(const json& value) {
  return ToYaml(json::array({value}));
}

}  // namespace sr2
