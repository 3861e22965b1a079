Feature: Groups and channels
  Who may find a room, read it, join it and post in it depends on its kind:
  a private room does not exist for outsiders, a public one is open to all to
  find and read but takes a join before posting, and in a channel only owners
  and admins post. A room never loses its owner while it has members.

  Scenario: A private group is invisible to outsiders
    Given alice created a private group "Secret plans" with bob
    And alice posted "the plan"
    Then bob can see the group
    And bob can read "the plan"
    And bob finds the group by searching "secret"
    But carol cannot see the group
    And carol cannot read "the plan"
    And carol does not find the group by searching "secret"
    When carol tries to post "let me in"
    Then she is refused with "NOT_FOUND"
    When carol tries to join the group
    Then she is refused with "NOT_FOUND"
    When carol tries to watch the group
    Then she is refused with "NOT_FOUND"

  Scenario: A public group is found by search, readable, and needs joining before posting
    Given alice created a public group "Hiking"
    And alice posted "Trail opens Saturday"
    When carol finds the group by searching "hik"
    Then carol sees this history:
      | from  | text                 |
      | alice | Trail opens Saturday |
    When carol tries to post "Can I come?"
    Then she is refused with "FORBIDDEN"
    When carol joins the group
    And carol tries to post "Can I come?"
    Then she succeeds
    And alice sees this history:
      | from  | text                 |
      | alice | Trail opens Saturday |
      | carol | Can I come?          |

  Scenario: In a channel only owners and admins post
    Given alice created a public channel "News" with bob and carol
    And alice made bob an admin
    When alice posts "Welcome"
    And bob posts "Hello from the admin"
    And carol tries to post "Me too"
    Then she is refused with "FORBIDDEN"
    And carol sees this history:
      | from  | text                 |
      | alice | Welcome              |
      | bob   | Hello from the admin |

  Scenario: When the owner leaves, the longest-standing admin becomes owner
    Given alice created a private group "Team"
    And alice added carol to the group
    And alice added dave to the group
    And alice added bob to the group
    # Promoted in the other order, so that join time, not promotion time,
    # decides; and bob sorts before dave, so that the id does not decide.
    And alice made bob an admin
    And alice made dave an admin
    When alice leaves the group
    Then dave is now the owner of the group
    And bob sees these members:
      | member | role   |
      | carol  | MEMBER |
      | dave   | OWNER  |
      | bob    | ADMIN  |

  Scenario: When the owner leaves a group without admins, the longest-standing member becomes owner
    Given alice created a private group "Choir"
    And alice added dave to the group
    And alice added bob to the group
    When alice leaves the group
    Then dave is now the owner of the group
    And bob sees these members:
      | member | role   |
      | dave   | OWNER  |
      | bob    | MEMBER |
