Feature: Task reminders
  A task of the board may have a due time and a reminder. When the reminder's
  time comes, every watcher of the task is notified, live and in their list of
  notifications, and "Reminders" posts it into the task's room. A reminder
  that fired may be snoozed; moving the due time before then replaces the
  reminder, and clearing the dates cancels it, so neither fires at the old
  time. These stories take a few seconds of real time: the server fires
  reminders on its own clock.

  Scenario: A reminder fires, reaches its watchers and is read
    Given alice and bob have a chat
    And bob is watching his notifications
    When alice sets "Ship the release" due in 2 seconds with bob watching and a reminder at the due time in the chat
    Then bob is notified of "Ship the release"
    And "Reminders" posts the reminder of "Ship the release" in the chat
    And bob has 1 unread notification of "Ship the release"
    When bob marks his notification of "Ship the release" as read
    Then bob has no unread notifications
    And bob still has his notification of "Ship the release", read
    When alice marks all her notifications as read
    Then 1 notification was marked read
    And alice has no unread notifications
    When bob marks all his notifications as read
    Then 0 notifications were marked read

  Scenario: A reminder that fired can be snoozed, and only one that fired
    Given bob is watching his notifications
    And alice set "Water the plants" due in 2 seconds with bob watching and a reminder at the due time
    When bob tries to snooze the reminder of "Water the plants" for 2 seconds
    Then he is refused with "CONFLICT"
    And bob sees the reminder of "Water the plants" as still SCHEDULED
    When bob is notified of "Water the plants"
    And bob tries to snooze the reminder of "Water the plants" until a minute ago
    Then he is refused with "BAD_USER_INPUT"
    And bob sees the reminder of "Water the plants" as still FIRED
    When bob snoozes the reminder of "Water the plants" for 2 seconds
    Then bob is notified of "Water the plants" again
    And bob has 2 notifications of "Water the plants"

  Scenario: Moving the due time before the reminder fires replaces it
    Given bob is watching his notifications
    And alice set "Draft the plan" due in 2 seconds with bob watching and a reminder at the due time
    # The marker fires after every reminder of "Draft the plan" would have:
    # once bob has it, whatever was going to fire for "Draft the plan" has.
    And alice set "Marker" due in 5 seconds with bob watching and a reminder at the due time
    When alice moves "Draft the plan" to due in 4 seconds
    Then bob is notified of "Draft the plan"
    And bob is notified of "Marker"
    And bob has 1 notification of "Draft the plan"
    And bob has received 1 notification of "Draft the plan" live

  Scenario: Clearing the dates before the reminder fires cancels it
    Given bob is watching his notifications
    And alice set "Old idea" due in 2 seconds with bob watching and a reminder at the due time
    And alice set "Marker" due in 4 seconds with bob watching and a reminder at the due time
    When alice clears the dates of "Old idea"
    Then bob sees the reminder of "Old idea" as CANCELLED
    When bob is notified of "Marker"
    Then bob has 0 notifications of "Old idea"
    And bob has received 0 notifications of "Old idea" live

  Scenario Outline: <input> is refused with <code>
    When alice <attempt>
    Then she is refused with "<code>"

    Examples:
      | input                              | attempt                                                               | code           |
      | a task title of 201 characters     | tries to set a task with a title of 201 characters                    | BAD_USER_INPUT |
      | a task due before it starts        | tries to set a task due a minute before it starts                     | BAD_USER_INPUT |
      | a task with 101 watchers           | tries to set a task watched by her and 100 others                     | BAD_USER_INPUT |
      | a task watcher who is not a member | tries to set a task watched by someone who is not a member            | BAD_USER_INPUT |
      | a task reminder in the past        | tries to set a task due in 2 minutes with a reminder 5 minutes before | BAD_USER_INPUT |
      | clearing an unknown task           | tries to clear the dates of a task that does not exist                | NOT_FOUND      |

  Scenario Outline: <input> is accepted
    When alice <attempt>
    Then she succeeds

    Examples:
      | input                          | attempt                                                                |
      | a task title of 200 characters | tries to set a task with a title of 200 characters                     |
      | a task due when it starts      | tries to set a task due when it starts                                 |
      | a task with 100 watchers       | tries to set a task watched by her and 99 others                       |
      | a task reminder in the future  | tries to set a task due in 10 minutes with a reminder 5 minutes before |
