// sr2ctl's help texts.
#pragma once

#include <string>
#include <string_view>

namespace sr2 {

// The help for `command` ("submit", ...); the general help (commands, global flags, exit
// codes) for "" or "help".
std::string HelpText(std::string_view command);

}  // namespace sr2
