package features

import (
	"testing"

	"github.com/cucumber/godog"
	"go.uber.org/goleak"

	"github.com/nordkapp42/nordkapp42/internal/e2e"
)

// Every scenario closes its sockets when it ends and TestFeatures stops the
// server, so no goroutine of the harness may outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestFeatures runs every *.feature file of this directory, one subtest per
// scenario, against one real server process. Scenarios share the server, not
// members: each scenario's members are its own (see stories), so they neither
// see nor disturb each other.
func TestFeatures(t *testing.T) {
	srv := e2e.Start(t, e2e.Options{})

	s := &stories{t: t, srv: srv}
	defer s.closeAll()
	suite := godog.TestSuite{
		Name:                "nordkapp42",
		ScenarioInitializer: s.initScenario,
		Options:             &godog.Options{Format: "pretty", Paths: []string{"."}, TestingT: t, Strict: true},
	}
	if status := suite.Run(); status != 0 {
		t.Fatalf("godog finished with status %d: see the failed scenarios above", status)
	}
}

// initScenario binds the steps to a fresh world; godog calls it once per
// scenario.
func (s *stories) initScenario(sc *godog.ScenarioContext) {
	w := s.newWorld()
	sc.Before(s.begin(w))
	sc.After(s.end(w))

	const (
		room     = `the (?:chat|group|channel)`
		textList = `((?:"[^"]*"(?:, | and )?)+)`
		proto    = `(graphql-transport-ws|graphql-ws)`
	)

	// Chatting.
	sc.Step(`^(\w+) and (\w+) have a chat$`, w.haveChat)
	sc.Step(`^(\w+) opens the chat with (\w+)$`, w.opensChat)
	sc.Step(`^it is the same chat$`, w.sameChat)
	sc.Step(`^(\w+) sees the chat named "([^"]*)"$`, w.seesChatNamed)
	sc.Step(`^(\w+) (?:sends|sent|posts|posted|has posted) `+textList+`$`, w.sends)
	sc.Step(`^(\w+) is watching `+room+`$`, w.isWatching)
	sc.Step(`^(\w+) is watching `+room+` over `+proto+`$`, w.isWatchingOver)
	sc.Step(`^(\w+) receives `+textList+` (?:live|in order)$`, w.receives)
	sc.Step(`^(\w+) receives these messages live:$`, w.receivesTable)
	sc.Step(`^(\w+) sees this history:$`, w.seesHistory)

	// Reconnecting.
	sc.Step(`^(\w+)'s connection drops$`, w.connectionDrops)
	sc.Step(`^(\w+) resubscribes from (?:his|her|their) last cursor$`, w.resubscribes)

	// Rooms.
	sc.Step(`^(\w+) (?:creates|created) a (private|public) (group|channel) "([^"]*)"$`, w.creates)
	sc.Step(`^(\w+) (?:creates|created) a (private|public) (group|channel) "([^"]*)" with (.+)$`, w.createsWith)
	sc.Step(`^(\w+) can see `+room+`$`, w.canSee)
	sc.Step(`^(\w+) cannot see `+room+`$`, w.cannotSee)
	sc.Step(`^(\w+) can read "([^"]*)"$`, w.canRead)
	sc.Step(`^(\w+) cannot read "([^"]*)"$`, w.cannotRead)
	sc.Step(`^(\w+) finds `+room+` by searching "([^"]*)"$`, w.finds)
	sc.Step(`^(\w+) does not find `+room+` by searching "([^"]*)"$`, w.doesNotFind)
	sc.Step(`^(\w+) joins `+room+`$`, w.joins)
	sc.Step(`^(\w+) leaves `+room+`$`, w.leaves)
	sc.Step(`^(\w+) (?:adds|added) (\w+) to `+room+`$`, w.adds)
	sc.Step(`^(\w+) (?:makes|made) (\w+) (?:an? |the )?(owner|admin|member)$`, w.makesRole)
	sc.Step(`^(\w+) is (?:now )?(?:an? |the )(owner|admin|member) of `+room+`$`, w.hasRole)
	sc.Step(`^(\w+) sees these members:$`, w.seesMembers)

	// Attempts that may be refused.
	sc.Step(`^(\w+) tries to post "([^"]*)"$`, w.triesToPost)
	sc.Step(`^(\w+) tries to join `+room+`$`, w.triesToJoin)
	sc.Step(`^(\w+) tries to watch `+room+`$`, w.triesToWatch)
	sc.Step(`^(\w+) tries to post a message of (\d+) characters$`, w.triesLongMessage)
	sc.Step(`^(\w+) tries to post a message of (\d+) "(.)" characters$`, w.triesLongMessageOf)
	sc.Step(`^(\w+) tries to create a (private|public) (group|channel) with a name of (\d+) characters$`, w.triesLongName)
	sc.Step(`^(\w+) tries to create a room of kind ([A-Z_]+)$`, w.triesKind)
	sc.Step(`^(\w+) tries to post "([^"]*)" in a room that does not exist$`, w.triesUnknownRoom)
	sc.Step(`^(\w+) tries to post "([^"]*)" in a room with a malformed id$`, w.triesMalformedRoomID)
	sc.Step(`^(\w+) tries to post "([^"]*)" (with a malformed token|with an expired token|with a token signed by someone else|without a token)$`, w.triesWithToken)
	sc.Step(`^(?:it|he|she|they) (?:is|are) refused with "([A-Z_]+)"$`, w.refused)
	sc.Step(`^(?:it|he|she|they) succeeds?$`, w.succeeds)

	// Reading.
	sc.Step(`^(\w+) has (\d+) unread messages? in `+room+`$`, w.hasUnread)
	sc.Step(`^(\w+) (?:marks|marked) "([^"]*)" as read$`, w.marksRead)
	sc.Step(`^(\w+) (?:deletes|deleted) "([^"]*)"$`, w.deletes)
	sc.Step(`^(\w+) has read up to "([^"]*)"$`, w.hasReadUpTo)
	sc.Step(`^(\w+) sees "([^"]*)" as (read|unread)$`, w.seesAs)

	// Reminders.
	const (
		title    = `"([^"]*)"`
		seconds  = `(\d+) seconds?`
		pronoun  = `(?:his|her|their)`
		reminder = `the reminder of ` + title
	)
	sc.Step(`^(\w+) is watching `+pronoun+` notifications$`, w.isWatchingNotifications)
	sc.Step(`^(\w+) (?:sets|set) `+title+` due in `+seconds+` with (.+) watching and a reminder at the due time( in the chat)?$`, w.setsTask)
	sc.Step(`^(\w+) (?:moves|moved) `+title+` to due in `+seconds+`$`, w.movesTask)
	sc.Step(`^(\w+) (?:clears|cleared) the dates of `+title+`$`, w.clearsDates)
	sc.Step(`^(\w+) is notified of `+title+`(?: again)?$`, w.isNotified)
	sc.Step(`^"([^"]*)" posts `+reminder+` in the chat$`, w.postsReminder)
	sc.Step(`^(\w+) sees `+reminder+` as (?:still )?(SCHEDULED|FIRED|CANCELLED)$`, w.seesReminderAs)
	sc.Step(`^(\w+) snoozes `+reminder+` for `+seconds+`$`, w.snoozes)
	sc.Step(`^(\w+) tries to snooze `+reminder+` for `+seconds+`$`, w.triesToSnooze)
	sc.Step(`^(\w+) tries to snooze `+reminder+` until a minute ago$`, w.triesToSnoozeIntoThePast)

	// Notifications.
	sc.Step(`^(\w+) has (\d+) unread notifications? of `+title+`$`, w.hasUnreadNotificationsOf)
	sc.Step(`^(\w+) has no unread notifications$`, w.hasNoUnreadNotifications)
	sc.Step(`^(\w+) has (\d+) notifications? of `+title+`$`, w.hasNotificationsOf)
	sc.Step(`^(\w+) has received (\d+) notifications? of `+title+` live$`, w.hasReceivedLive)
	sc.Step(`^(\w+) marks `+pronoun+` notification of `+title+` as read$`, w.marksNotificationRead)
	sc.Step(`^(\w+) still has `+pronoun+` notification of `+title+`, read$`, w.stillHasReadNotification)
	sc.Step(`^(\w+) marks all `+pronoun+` notifications as read$`, w.marksAllNotificationsRead)
	sc.Step(`^(\d+) notifications? (?:was|were) marked read$`, w.markedRead)

	// Task dates that may be refused.
	sc.Step(`^(\w+) tries to set a task with a title of (\d+) characters$`, w.triesTaskTitle)
	sc.Step(`^(\w+) tries to set a task due (a minute before|when) it starts$`, w.triesTaskStart)
	sc.Step(`^(\w+) tries to set a task watched by (?:him|her|them) and (\d+) others$`, w.triesTaskWatchers)
	sc.Step(`^(\w+) tries to set a task watched by someone who is not a member$`, w.triesTaskStranger)
	sc.Step(`^(\w+) tries to set a task due in (\d+) minutes? with a reminder (5|10|15) minutes before$`, w.triesTaskReminder)
	sc.Step(`^(\w+) tries to clear the dates of a task that does not exist$`, w.triesClearUnknownTask)
}
