package ipmi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// command is one handler this package registers over go-ipmi's defaults,
// with the least privilege a session needs to run it.
type command struct {
	cmd  types.Command
	priv bmc.PrivilegeLevel
	fn   handlers.HandlerFunc
}

func commands(m *machine) []command {
	user, operator, admin := bmc.PrivilegeLevelUser, bmc.PrivilegeLevelOperator, bmc.PrivilegeLevelAdministrator
	return []command{
		{types.CommandGetDeviceID, user, handleGetDeviceID(m)},
		{types.CommandGetDeviceGUID, user, handleGUID(m, deviceGUID)},
		{types.CommandGetSystemGUID, user, handleGUID(m, systemGUID)},
		// go-ipmi maps BMC cold/warm reset onto the host chassis HAL, which
		// would power the emulated host off. Cold Reset resets the BMC
		// itself (faults.go); a warm reset has no state of its own to
		// clear here and stays unsupported.
		{types.CommandColdReset, admin, handleColdReset(m)},
		{types.CommandWarmReset, admin, unsupported},

		{types.CommandGetSDRRepoInfo, user, handleGetSDRRepoInfo(m)},
		{types.CommandReserveSDRRepo, user, handleReserveSDR(m)},
		{types.CommandGetSDR, user, handleGetSDR(m)},

		{types.CommandGetDeviceSDRInfo, user, handleGetDeviceSDRInfo(m)},
		{types.CommandReserveDeviceSDRRepo, user, handleReserveSDR(m)},
		{types.CommandGetDeviceSDR, user, handleGetSDR(m)},
		{types.CommandGetSensorReading, user, handleGetSensorReading(m)},
		{types.CommandGetSensorEventStatus, user, handleGetSensorEventStatus(m)},
		{types.CommandGetSensorType, user, handleGetSensorType(m)},
		{types.CommandGetSensorThresholds, user, handleGetSensorThresholds(m)},
		{types.CommandSetSensorThresholds, operator, handleSetSensorThresholds(m)},
		{types.CommandGetSensorReadingFactors, user, handleGetSensorReadingFactors(m)},
		{types.CommandGetSensorHysteresis, user, handleGetSensorHysteresis(m)},
		{types.CommandGetSensorEventEnable, user, handleGetSensorEventEnable(m)},
		{types.CommandSetSensorEventEnable, operator, handleSetSensorEventEnable(m)},
		{types.CommandRearmSensorEvents, operator, handleRearmSensorEvents(m)},

		// SEL (v2.0 §31); privileges per Appendix G.
		{types.CommandGetSELInfo, user, handleGetSELInfo(m)},
		{types.CommandGetSELAllocInfo, user, handleGetSELAllocInfo(m)},
		{types.CommandReserveSEL, user, handleReserveSEL(m)},
		{types.CommandGetSELEntry, user, handleGetSELEntry(m)},
		{types.CommandAddSELEntry, operator, handleAddSELEntry(m)},
		{types.CommandPartialAddSELEntry, operator, handlePartialAddSELEntry(m)},
		{types.CommandDeleteSELEntry, operator, handleDeleteSELEntry(m)},
		{types.CommandClearSEL, operator, handleClearSEL(m)},
		{types.CommandGetSELTime, user, handleGetSELTime(m)},
		{types.CommandSetSELTime, operator, handleSetSELTime(m)},
		{types.CommandGetSELTimeUTCOffset, user, handleGetSELTimeUTCOffset(m)},
		{types.CommandSetSELTimeUTCOffset, operator, handleSetSELTimeUTCOffset(m)},
		{types.CommandPlatformEventMessage, operator, handlePlatformEvent(m)},

		// PEF and alerting (v2.0 §30, §23).
		{types.CommandGetPEFCapabilities, user, handleGetPEFCapabilities(m)},
		{types.CommandArmPEFPostponeTimer, admin, handleArmPEFPostponeTimer(m.pef)},
		{types.CommandSetPEFConfigParam, admin, handleSetPEFConfig(m.pef)},
		{types.CommandGetPEFConfigParam, operator, handleGetPEFConfig(m.pef)},
		{types.CommandSetLastProcessedEventId, admin, handleSetLastProcessedEventID(m.pef)},
		{types.CommandGetLastProcessedEventId, admin, handleGetLastProcessedEventID(m.pef)},
		{types.CommandAlertImmediate, admin, handleAlertImmediate(m.pef)},
		{types.CommandPETAcknowledge, operator, handlePETAcknowledge(m.pef)},
		{types.CommandGetLanConfigParam, operator, handleGetLANConfigParams(m)},
		{types.CommandSetLanConfigParam, admin, handleSetLANConfigParams(m)},

		// Channel, MC and DCMI (mc.go).
		{types.CommandGetChannelInfo, user, handleGetChannelInfo()},
		{types.CommandGetChannelAccess, user, handleGetChannelAccess()},
		{types.CommandGetBMCGlobalEnables, user, handleGetGlobalEnables(m)},
		{types.CommandSetBMCGlobalEnables, admin, handleSetGlobalEnables(m)},
		{types.CommandGetWatchdogTimer, user, handleGetWatchdog(m)},
		{types.CommandSetWatchdogTimer, operator, handleSetWatchdog(m)},
		{types.CommandResetWatchdogTimer, operator, handleResetWatchdog(m)},
		{types.CommandGetDCMICapParam, user, handleDCMICapabilities(m)},
		{types.CommandGetDCMIPowerReading, user, handleDCMIPowerReading(m)},
		{types.CommandGetChassisStatus, user, handleGetChassisStatus(m)},
		{types.CommandChassisControl, operator, handleChassisControl(m)},
	}
}

func unsupported(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
	return nil, types.CodeInvalidCommand, nil
}

// newRegistry is go-ipmi's standard command set with this package's
// handlers on top. Middleware must be installed before any registration:
// the registry wraps handlers when they are registered.
func newRegistry(m *machine, log *slog.Logger, extra ...command) *handlers.Registry {
	reg := handlers.NewRegistry()
	reg.Use(recoverPanics(log))
	reg.Use(traceCommands(log))
	handlers.RegisterAllHandlers(reg)
	for _, c := range append(commands(m), extra...) {
		reg.Register(c.cmd, requirePrivilege(c.priv, c.fn))
	}
	return reg
}

// requirePrivilege enforces the privilege declared with each command.
// go-ipmi already checks its own table (which defaults to User); this makes
// the requirement explicit where the handler is defined.
func requirePrivilege(min bmc.PrivilegeLevel, h handlers.HandlerFunc) handlers.HandlerFunc {
	return func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if hctx != nil {
			if s := hctx.Session; s != nil && s.PrivilegeLevel < min {
				return nil, types.CodeInsufficientPrivilege, nil
			}
			if s := hctx.V15Session; s != nil && s.PrivilegeLevel < min {
				return nil, types.CodeInsufficientPrivilege, nil
			}
		}
		return h(ctx, hctx, req)
	}
}

// recoverPanics keeps one malformed request from taking the process down:
// go-ipmi dispatches each packet on its own goroutine without a recover.
func recoverPanics(log *slog.Logger) handlers.Middleware {
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) (resp []byte, cc types.CompletionCode, err error) {
			defer func() {
				if r := recover(); r != nil {
					log.Error("IPMI handler panicked", "command", commandName(hctx), "request", fmt.Sprintf("% x", req),
						"panic", r, "stack", string(debug.Stack()))
					resp, cc, err = nil, types.CodeUnspecifiedError, nil
				}
			}()
			return next.Handle(ctx, hctx, req)
		})
	}
}

func traceCommands(log *slog.Logger) handlers.Middleware {
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
			resp, cc, err := next.Handle(ctx, hctx, req)
			// Debug only: clients probe for commands, and go-ipmi reports
			// every unknown one as an error.
			if log.Enabled(ctx, slog.LevelDebug) {
				attrs := []any{"command", commandName(hctx), "cc", fmt.Sprintf("%#02x", uint8(cc))}
				if err != nil {
					attrs = append(attrs, "err", err)
				}
				log.Debug("IPMI command", attrs...)
			}
			return resp, cc, err
		})
	}
}

func commandName(hctx *handlers.HandlerContext) string {
	if hctx == nil {
		return "?"
	}
	c := hctx.Command
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("netfn=%#02x cmd=%#02x", uint8(c.NetFn), c.ID)
}
