// Just enough XML for S3 responses: S3 answers with flat, attribute-free elements (besides the
// root's xmlns), so elements are found by tag name and their text unescaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sr2 {

// The raw contents of every <tag>...</tag> (or <tag/>, as "") in `xml`, in document order. Nested
// elements with the same tag are not supported (S3 never nests them).
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);

// The unescaped text of the first <tag> in `xml`, or "" if there is none.
std::string XmlText(std::string_view xml, std::string_view tag);

// Replaces the five predefined entities and numeric character references.
std::string XmlUnescape(std::string_view text);

// Escapes &, <, >, " for use in element text.
std::string XmlEscape(std::string_view text);

}  // namespace sr2
