Feature: Catching up after a dropped connection
  Bob's phone loses its connection for a while. When it comes back, it
  subscribes again from the cursor of the last event it received: it gets
  exactly what it missed, in order, and then goes on live.

  Scenario: Bob resubscribes from his last cursor and misses nothing
    Given alice and bob have a chat
    And bob is watching the chat
    And alice sent "before the drop"
    And bob receives "before the drop" live
    When bob's connection drops
    And alice sends "one", "two" and "three"
    And bob resubscribes from his last cursor
    Then bob receives "one", "two" and "three" in order
    When alice sends "back live"
    Then bob receives "back live" live
