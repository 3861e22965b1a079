package features

// The GraphQL operations the steps send, as a client app would.
const (
	opMe = `{ me { id name } }`

	opOpenChat = `mutation($m: ID!) { openChat(memberId: $m) { id kind name } }`

	opCreateRoom = `mutation($k: RoomKind!, $n: String!, $ms: [ID!]) {
		createRoom(input: {kind: $k, name: $n, memberIds: $ms}) { id kind name myRole }
	}`

	opRoom = `query($r: ID!) { room(id: $r) { id kind name myRole lastEventCursor } }`

	opMyRooms = `{ rooms(first: 200) { edges { node { id kind name } } } }`

	opSearchRooms = `query($q: String!, $after: Cursor) {
		searchRooms(query: $q, first: 200, after: $after) {
			edges { node { id kind name } }
			pageInfo { hasNextPage endCursor }
		}
	}`

	opHistory = `query($r: ID!) { room(id: $r) {
		newest: messages { edges { node { ...line } } }
		forward: messages(first: 50) { edges { node { ...line } } }
	} }
	fragment line on Message { id text author { id } deletedAt }`

	opMembers = `query($r: ID!) { room(id: $r) { members(first: 200) { edges { node { member { id } role lastReadMessageId } } } } }`

	opUnread = `query($r: ID!) { room(id: $r) { unreadCount } }`

	opMessage = `query($id: ID!) { message(id: $id) { id text } }`

	opIsRead = `query($id: ID!) { message(id: $id) { isRead } }`

	opSend = `mutation($r: ID!, $t: String!) { sendMessage(input: {roomId: $r, text: $t}) { id text author { id } } }`

	opDelete = `mutation($id: ID!) { deleteMessage(id: $id) { id text deletedAt } }`

	opMarkRead = `mutation($r: ID!, $m: ID!) { markRead(roomId: $r, messageId: $m) { unreadCount } }`

	opJoin = `mutation($r: ID!) { joinRoom(roomId: $r) { id myRole } }`

	opLeave = `mutation($r: ID!) { leaveRoom(roomId: $r) }`

	opAddMembers = `mutation($r: ID!, $ms: [ID!]!) { addRoomMembers(roomId: $r, memberIds: $ms) { id } }`

	opSetRole = `mutation($r: ID!, $m: ID!, $role: RoomRole!) { setRoomRole(roomId: $r, memberId: $m, role: $role) { role } }`

	subRoomEvents = `subscription($r: ID!, $after: Cursor) {
		roomEvents(roomId: $r, after: $after) { cursor type seq roomId message { id text author { id } } }
	}`

	opSetTaskDates = `mutation($in: SetTaskDatesInput!) { setTaskDates(input: $in) {
		id title dueAt remind remindAt watchers { id } room { id } reminder { id state fireAt }
	} }`

	opClearTaskDates = `mutation($t: ID!) { clearTaskDates(taskId: $t) { id startAt dueAt remind remindAt } }`

	opTaskReminder = `query($t: ID!) { task(id: $t) { reminder { id state } } }`

	opSnooze = `mutation($id: ID!, $until: Time!) { snoozeReminder(id: $id, until: $until) { id state fireAt snoozedUntil } }`

	opNotifications = `query($unread: Boolean) { notifications(unreadOnly: $unread, first: 200) { edges { node { ...notification } } } }
	fragment notification on Notification { id kind text createdAt readAt task { id } reminder { id } room { id } }`

	opMarkNotificationRead = `mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }`

	opMarkAllNotificationsRead = `mutation { markAllNotificationsRead }`

	opRoomMessages = `query($r: ID!) { room(id: $r) { messages(first: 200) { edges { node { id text author { id name } } } } } }`

	subNotifications = `subscription { notifications { id kind text createdAt readAt task { id } reminder { id } room { id } } }`
)
