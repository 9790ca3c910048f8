/*
 * BearingTemperature: an FMI 2.0 co-simulation FMU of a pump bearing's temperature.
 *
 *   dT/dt = (Tamb + R * P - T) / tau
 *
 * with the inputs (ambient temperature Tamb, friction heat P) held over each communication
 * step, integrated exactly: T(t + h) = target + (T(t) - target) * exp(-h / tau).
 * The same equations as twinops.sim.library.bearing.BearingTemperature (NumPy), so the two
 * agree to rounding; the twinops FMU engine test builds this file with gcc.
 *
 * Value references: 0 thermalResistance, 1 timeConstant, 2 initialTemperature (parameters),
 * 3 ambientTemperature, 4 heat (inputs), 5 temperature (output).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"

#define GUID "{6f3c2a52-1d0e-4b7e-9a61-7f1b2e0c9d41}"
#define N_VARIABLES 6

typedef enum { INSTANTIATED, INITIALIZATION, STEPPING, TERMINATED } Phase;

typedef struct {
    fmi2Real values[N_VARIABLES];
    Phase phase;
    fmi2CallbackFunctions callbacks;
    fmi2String name;
} Instance;

static const fmi2Real START[N_VARIABLES] = {0.2, 1200.0, 40.0, 20.0, 150.0, 40.0};

static void start_values(Instance *instance) {
    memcpy(instance->values, START, sizeof(START));
}

static fmi2Status fail(Instance *instance, const char *message) {
    if (instance && instance->callbacks.logger) {
        instance->callbacks.logger(instance->callbacks.componentEnvironment, instance->name,
                                   fmi2Error, "logStatusError", message);
    }
    return fmi2Error;
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }

const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    (void)c; (void)loggingOn; (void)nCategories; (void)categories;
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String guid,
                              fmi2String resourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn) {
    (void)resourceLocation; (void)visible; (void)loggingOn;
    if (fmuType != fmi2CoSimulation || guid == NULL || strcmp(guid, GUID) != 0) {
        return NULL;
    }
    Instance *instance = (Instance *)calloc(1, sizeof(Instance));
    if (instance == NULL) {
        return NULL;
    }
    if (functions != NULL) {
        instance->callbacks = *functions;
    }
    instance->name = instanceName;
    instance->phase = INSTANTIATED;
    start_values(instance);
    return instance;
}

void fmi2FreeInstance(fmi2Component c) { free(c); }

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined,
                               fmi2Real stopTime) {
    (void)toleranceDefined; (void)tolerance; (void)startTime; (void)stopTimeDefined;
    (void)stopTime;
    return c ? fmi2OK : fmi2Error;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    instance->phase = INITIALIZATION;
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    if (instance->values[1] <= 0.0) return fail(instance, "timeConstant must be positive");
    instance->values[5] = instance->values[2];
    instance->phase = STEPPING;
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component c) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    instance->phase = TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    start_values(instance);
    instance->phase = INSTANTIATED;
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       fmi2Real value[]) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] >= N_VARIABLES) return fail(instance, "unknown value reference");
        if (vr[i] == 5 && instance->phase == INITIALIZATION) {
            value[i] = instance->values[2];
        } else {
            value[i] = instance->values[vr[i]];
        }
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       const fmi2Real value[]) {
    Instance *instance = (Instance *)c;
    if (!instance) return fmi2Error;
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] >= 5) return fail(instance, "only parameters and inputs can be set");
        if (vr[i] <= 2 && instance->phase == STEPPING) {
            return fail(instance, "fixed parameters cannot change after initialization");
        }
        instance->values[vr[i]] = value[i];
    }
    return fmi2OK;
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint,
                      fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentCommunicationPoint) {
    (void)currentCommunicationPoint; (void)noSetFMUStatePriorToCurrentCommunicationPoint;
    Instance *instance = (Instance *)c;
    if (!instance || instance->phase != STEPPING) return fmi2Error;
    if (communicationStepSize <= 0.0) return fail(instance, "the step must be positive");
    fmi2Real *v = instance->values;
    fmi2Real target = v[3] + v[0] * v[4];
    v[5] = target + (v[5] - target) * exp(-communicationStepSize / v[1]);
    return fmi2OK;
}

/* Not supported by this FMU: integer/boolean/string variables, FMU state, derivatives. */

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Integer value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Boolean value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         fmi2String value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Integer value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Boolean value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         const fmi2String value[]) {
    (void)c; (void)vr; (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    (void)c; (void)FMUstate;
    return fmi2Error;
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate) {
    (void)c; (void)FMUstate;
    return fmi2Error;
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    (void)c; (void)FMUstate;
    return fmi2Error;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size) {
    (void)c; (void)FMUstate; (void)size;
    return fmi2Error;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate, fmi2Byte serializedState[],
                                 size_t size) {
    (void)c; (void)FMUstate; (void)serializedState; (void)size;
    return fmi2Error;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[], size_t size,
                                   fmi2FMUstate *FMUstate) {
    (void)c; (void)serializedState; (void)size; (void)FMUstate;
    return fmi2Error;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[],
                                        size_t nUnknown, const fmi2ValueReference vKnown_ref[],
                                        size_t nKnown, const fmi2Real dvKnown[],
                                        fmi2Real dvUnknown[]) {
    (void)c; (void)vUnknown_ref; (void)nUnknown; (void)vKnown_ref; (void)nKnown; (void)dvKnown;
    (void)dvUnknown;
    return fmi2Error;
}

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    (void)c; (void)vr; (void)nvr; (void)order; (void)value;
    return fmi2Error;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                        size_t nvr, const fmi2Integer order[],
                                        fmi2Real value[]) {
    (void)c; (void)vr; (void)nvr; (void)order; (void)value;
    return fmi2Error;
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    (void)c;
    return fmi2Error;
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

/* Model exchange functions: this is a co-simulation FMU only, but FMPy loads every symbol. */

fmi2Status fmi2EnterEventMode(fmi2Component c) { (void)c; return fmi2Error; }

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *fmi2eventInfo) {
    (void)c; (void)fmi2eventInfo;
    return fmi2Error;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) { (void)c; return fmi2Error; }

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c,
                                       fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode,
                                       fmi2Boolean *terminateSimulation) {
    (void)c; (void)noSetFMUStatePriorToCurrentPoint; (void)enterEventMode;
    (void)terminateSimulation;
    return fmi2Error;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time) { (void)c; (void)time; return fmi2Error; }

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    (void)c; (void)x; (void)nx;
    return fmi2Error;
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx) {
    (void)c; (void)derivatives; (void)nx;
    return fmi2Error;
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni) {
    (void)c; (void)eventIndicators; (void)ni;
    return fmi2Error;
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    (void)c; (void)x; (void)nx;
    return fmi2Error;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx) {
    (void)c; (void)x_nominal; (void)nx;
    return fmi2Error;
}
