#include "common/store/s3_xml.h"

#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace sr2 {
namespace {

// Appends `code_point` as UTF-8.
void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    *out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *out += static_cast<char>(0xC0 | (code_point >> 6));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *out += static_cast<char>(0xE0 | (code_point >> 12));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code_point >> 18));
    *out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Decodes the entity `name` (between '&' and ';'); false if it is not one.
bool DecodeEntity(std::string_view name, std::string* out) {
  if (name == "amp")
    *out += '&';
  else if (name == "lt")
    *out += '<';
  else if (name == "gt")
    *out += '>';
  else if (name == "quot")
    *out += '"';
  else if (name == "apos")
    *out += '\'';
  else if (name.size() > 1 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string digits(name.substr(hex ? 2 : 1));
    if (digits.empty()) return false;
    char* end = nullptr;
    const unsigned long code_point = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
    if (*end != '\0' || code_point > 0x10FFFF) return false;
    AppendUtf8(static_cast<uint32_t>(code_point), out);
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> elements;
  const std::string open = absl::StrCat("<", std::string(tag));
  const std::string close = absl::StrCat("</", std::string(tag), ">");
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t after_name = pos + open.size();
    if (after_name >= xml.size()) break;
    const char next = xml[after_name];
    // "<Key" must not match "<KeyCount>".
    if (next != '>' && next != '/' && next != ' ') {
      pos = after_name;
      continue;
    }
    const size_t tag_end = xml.find('>', after_name);
    if (tag_end == std::string_view::npos) break;
    if (xml[tag_end - 1] == '/') {
      elements.push_back(std::string_view());
      pos = tag_end + 1;
      continue;
    }
    const size_t content_end = xml.find(close, tag_end + 1);
    if (content_end == std::string_view::npos) break;
    elements.push_back(xml.substr(tag_end + 1, content_end - tag_end - 1));
    pos = content_end + close.size();
  }
  return elements;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  const std::vector<std::string_view> elements = XmlElements(xml, tag);
  return elements.empty() ? std::string() : XmlUnescape(elements.front());
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '&') {
      const size_t semicolon = text.find(';', i);
      if (semicolon != std::string_view::npos &&
          DecodeEntity(text.substr(i + 1, semicolon - i - 1), &out)) {
        i = semicolon + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace sr2
