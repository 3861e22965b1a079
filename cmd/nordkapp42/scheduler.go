package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/config"
	"github.com/nordkapp42/nordkapp42/internal/scheduler/river"
)

// openScheduler opens the reminder job queue on the store's own database:
// the SQLite file on one node, PostgreSQL when scaled out. Fired reminders
// go to svc.
func openScheduler(ctx context.Context, cfg config.Config, sqlitePath string, svc *app.Service, log *slog.Logger) (*river.Scheduler, error) {
	fire := func(ctx context.Context, reminderID, token string) error {
		return svc.FireReminder(ctx, reminderID, token)
	}
	opts := river.Options{Logger: log}
	var s *river.Scheduler
	var err error
	if cfg.DatabaseURL != "" {
		s, err = river.NewPostgres(ctx, cfg.DatabaseURL, fire, opts)
	} else {
		s, err = river.NewSQLite(ctx, sqlitePath, fire, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open reminder scheduler: %w", err)
	}
	return s, nil
}
