Feature: Unread counts
  A room's unread count is the number of messages after my read pointer that
  others wrote and that are not deleted. Marking a message read moves the
  pointer forward, and never back.

  Background:
    Given alice and bob have a chat

  Scenario: Others' messages after my read pointer are unread, mine are not
    When alice sends "one", "two" and "three"
    Then bob has 3 unread messages in the chat
    And alice has 0 unread messages in the chat

  Scenario: Replying reads what came before
    Given alice sent "one" and "two"
    When bob sends "got them"
    Then bob has 0 unread messages in the chat
    And alice has 1 unread message in the chat

  Scenario: Marking a message read lowers the count
    Given alice sent "one", "two" and "three"
    When bob marks "two" as read
    Then bob has 1 unread message in the chat
    And bob sees "two" as read
    And bob sees "three" as unread

  Scenario: The read pointer never moves back
    Given alice sent "one", "two" and "three"
    And bob marked "three" as read
    When bob marks "one" as read
    Then bob has 0 unread messages in the chat
    And bob has read up to "three"
    And bob sees "three" as read

  Scenario: A deleted message is not counted and shows as a tombstone
    Given alice sent "one", "oops" and "three"
    When alice deletes "oops"
    Then bob has 2 unread messages in the chat
    And bob sees this history:
      | from  | text      |
      | alice | one       |
      | alice | (deleted) |
      | alice | three     |
