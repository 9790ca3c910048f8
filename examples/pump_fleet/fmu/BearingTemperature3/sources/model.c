/*
 * BearingTemperature3: the FMI 3.0 co-simulation version of ../BearingTemperature (FMI 2.0),
 * the same first-order thermal lag of a pump bearing, integrated exactly per step:
 *
 *   T(t + h) = target + (T(t) - target) * exp(-h / tau),  target = Tamb + R * P
 *
 * Value references (FMI 3.0 reserves 0 for time): 1 thermalResistance, 2 timeConstant,
 * 3 initialTemperature (parameters), 4 ambientTemperature, 5 heat (inputs), 6 temperature
 * (output). The functions this FMU does not support are in unsupported.c.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmi3Functions.h"

#define TOKEN "{9b0d6e1f-3c2a-4f5e-8d7c-2a1b0c9e8f73}"
#define N_VALUES 7 /* index = value reference; 0 (time) unused */

typedef enum { INSTANTIATED, INITIALIZATION, STEPPING, TERMINATED } Phase;

typedef struct {
    fmi3Float64 values[N_VALUES];
    Phase phase;
    fmi3InstanceEnvironment environment;
    fmi3LogMessageCallback log;
} Instance;

static const fmi3Float64 START[N_VALUES] = {0.0, 0.2, 1200.0, 40.0, 20.0, 150.0, 40.0};

static fmi3Status fail(Instance *instance, const char *message) {
    if (instance && instance->log) {
        instance->log(instance->environment, fmi3Error, "logStatusError", message);
    }
    return fmi3Error;
}

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[]) {
    (void)instance; (void)loggingOn; (void)nCategories; (void)categories;
    return fmi3OK;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible,
                                          fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage) {
    (void)instanceName; (void)instantiationToken; (void)resourcePath; (void)visible;
    (void)loggingOn; (void)instanceEnvironment; (void)logMessage;
    return NULL; /* co-simulation only */
}

fmi3Instance fmi3InstantiateCoSimulation(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3Boolean eventModeUsed,
    fmi3Boolean earlyReturnAllowed, const fmi3ValueReference requiredIntermediateVariables[],
    size_t nRequiredIntermediateVariables, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3IntermediateUpdateCallback intermediateUpdate) {
    (void)instanceName; (void)resourcePath; (void)visible; (void)loggingOn;
    (void)earlyReturnAllowed; (void)requiredIntermediateVariables;
    (void)nRequiredIntermediateVariables; (void)intermediateUpdate;
    if (eventModeUsed || instantiationToken == NULL || strcmp(instantiationToken, TOKEN) != 0) {
        return NULL;
    }
    Instance *instance = (Instance *)calloc(1, sizeof(Instance));
    if (instance == NULL) {
        return NULL;
    }
    memcpy(instance->values, START, sizeof(START));
    instance->phase = INSTANTIATED;
    instance->environment = instanceEnvironment;
    instance->log = logMessage;
    return instance;
}

fmi3Instance fmi3InstantiateScheduledExecution(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3ClockUpdateCallback clockUpdate,
    fmi3LockPreemptionCallback lockPreemption, fmi3UnlockPreemptionCallback unlockPreemption) {
    (void)instanceName; (void)instantiationToken; (void)resourcePath; (void)visible;
    (void)loggingOn; (void)instanceEnvironment; (void)logMessage; (void)clockUpdate;
    (void)lockPreemption; (void)unlockPreemption;
    return NULL;
}

void fmi3FreeInstance(fmi3Instance instance) { free(instance); }

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined,
                                       fmi3Float64 tolerance, fmi3Float64 startTime,
                                       fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    (void)toleranceDefined; (void)tolerance; (void)startTime; (void)stopTimeDefined;
    (void)stopTime;
    Instance *self = (Instance *)instance;
    if (!self) return fmi3Error;
    self->phase = INITIALIZATION;
    return fmi3OK;
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    Instance *self = (Instance *)instance;
    if (!self) return fmi3Error;
    if (self->values[2] <= 0.0) return fail(self, "timeConstant must be positive");
    self->values[6] = self->values[3];
    self->phase = STEPPING;
    return fmi3OK;
}

fmi3Status fmi3Terminate(fmi3Instance instance) {
    Instance *self = (Instance *)instance;
    if (!self) return fmi3Error;
    self->phase = TERMINATED;
    return fmi3OK;
}

fmi3Status fmi3Reset(fmi3Instance instance) {
    Instance *self = (Instance *)instance;
    if (!self) return fmi3Error;
    memcpy(self->values, START, sizeof(START));
    self->phase = INSTANTIATED;
    return fmi3OK;
}

fmi3Status fmi3GetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                          size_t nValueReferences, fmi3Float64 values[], size_t nValues) {
    Instance *self = (Instance *)instance;
    if (!self || nValues < nValueReferences) return fmi3Error;
    for (size_t i = 0; i < nValueReferences; i++) {
        fmi3ValueReference vr = valueReferences[i];
        if (vr == 0 || vr >= N_VALUES) return fail(self, "unknown value reference");
        values[i] = (vr == 6 && self->phase == INITIALIZATION) ? self->values[3]
                                                                : self->values[vr];
    }
    return fmi3OK;
}

fmi3Status fmi3SetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                          size_t nValueReferences, const fmi3Float64 values[], size_t nValues) {
    Instance *self = (Instance *)instance;
    if (!self || nValues < nValueReferences) return fmi3Error;
    for (size_t i = 0; i < nValueReferences; i++) {
        fmi3ValueReference vr = valueReferences[i];
        if (vr == 0 || vr >= 6) return fail(self, "only parameters and inputs can be set");
        if (vr <= 3 && self->phase == STEPPING) {
            return fail(self, "fixed parameters cannot change after initialization");
        }
        self->values[vr] = values[i];
    }
    return fmi3OK;
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint,
                      fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation,
                      fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    (void)noSetFMUStatePriorToCurrentPoint;
    Instance *self = (Instance *)instance;
    if (!self || self->phase != STEPPING) return fmi3Error;
    if (communicationStepSize <= 0.0) return fail(self, "the step must be positive");
    fmi3Float64 *v = self->values;
    fmi3Float64 target = v[4] + v[1] * v[5];
    v[6] = target + (v[6] - target) * exp(-communicationStepSize / v[2]);
    *eventHandlingNeeded = fmi3False;
    *terminateSimulation = fmi3False;
    *earlyReturn = fmi3False;
    *lastSuccessfulTime = currentCommunicationPoint + communicationStepSize;
    return fmi3OK;
}
