Feature: Bad input is refused with a clear code
  Whatever a client gets wrong, the server answers with an error whose
  extensions.code says what kind of mistake it is, and changes nothing.

  Background:
    Given alice created a private group "Book club"

  Scenario Outline: <input> is refused with <code>
    When alice <attempt>
    Then it is refused with "<code>"

    Examples:
      | input                           | attempt                                                           | code            |
      | an empty message                | tries to post ""                                                  | BAD_USER_INPUT  |
      | a message of only spaces        | tries to post "   "                                               | BAD_USER_INPUT  |
      | a 4,001-character message       | tries to post a message of 4001 characters                        | BAD_USER_INPUT  |
      | a 101-character room name       | tries to create a private group with a name of 101 characters     | BAD_USER_INPUT  |
      | a CHAT made with createRoom     | tries to create a room of kind CHAT                               | BAD_USER_INPUT  |
      | an unknown room                 | tries to post "hello" in a room that does not exist               | NOT_FOUND       |
      | a malformed room id             | tries to post "hello" in a room with a malformed id               | BAD_USER_INPUT  |
      | a malformed token               | tries to post "hello" with a malformed token                      | UNAUTHENTICATED |
      | an expired token                | tries to post "hello" with an expired token                       | UNAUTHENTICATED |
      | a token signed by someone else  | tries to post "hello" with a token signed by someone else         | UNAUTHENTICATED |
      | no token                        | tries to post "hello" without a token                             | UNAUTHENTICATED |

  Scenario Outline: <input> is accepted
    When alice <attempt>
    Then it succeeds

    Examples:
      | input                                | attempt                                                       |
      | a 4,000-character message            | tries to post a message of 4000 characters                    |
      | a 4,000-character message of "ø"     | tries to post a message of 4000 "ø" characters                |
      | a 100-character room name            | tries to create a public channel with a name of 100 characters |
