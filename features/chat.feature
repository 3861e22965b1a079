Feature: Two people chat in real time
  Alice and Bob talk in a 1-1 chat. Each of them sees the chat named after
  the other, every message reaches the other at once over a WebSocket
  subscription, and the history gives the messages back in the order they
  were sent.

  Background:
    Given alice and bob have a chat

  Scenario: The chat is named after the other person
    Then alice sees the chat named "Bob"
    And bob sees the chat named "Alice"

  Scenario: Opening the chat again, from either side, gives the same chat
    When bob opens the chat with alice
    Then it is the same chat

  Scenario Outline: A message arrives live over <protocol>
    Given bob is watching the chat over <protocol>
    When alice sends "hello"
    Then bob receives "hello" live

    Examples:
      | protocol             |
      | graphql-transport-ws |
      | graphql-ws           |

  Scenario: A conversation goes both ways and the history keeps its order
    Given alice is watching the chat
    And bob is watching the chat
    When alice sends "hi bob"
    And bob sends "hi alice"
    And alice sends "how are you?"
    Then bob receives these messages live:
      | from  | text         |
      | alice | hi bob       |
      | bob   | hi alice     |
      | alice | how are you? |
    And alice receives these messages live:
      | from  | text         |
      | alice | hi bob       |
      | bob   | hi alice     |
      | alice | how are you? |
    And bob sees this history:
      | from  | text         |
      | alice | hi bob       |
      | bob   | hi alice     |
      | alice | how are you? |
    And alice sees this history:
      | from  | text         |
      | alice | hi bob       |
      | bob   | hi alice     |
      | alice | how are you? |
